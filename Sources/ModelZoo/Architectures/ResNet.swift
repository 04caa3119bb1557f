/// ResNet-18 and ResNet-50 (He et al., 2016), with the stride on the 3×3 convolution of each
/// bottleneck as torchvision and most deployments use ("v1.5").
enum ResNet {
    static func build(_ g: inout GraphBuilder, _ input: Node, layers: [Int], bottleneck: Bool) -> Node {
        var x = g.conv(input, out: 64, kernel: 7, stride: 2, activation: .relu)
        x = g.maxPool(x, kernel: 3, stride: 2, pad: 1)
        for (stage, repeats) in layers.enumerated() {
            let width = 64 << stage
            let out = bottleneck ? width * 4 : width
            for i in 0..<repeats {
                let stride = i == 0 && stage > 0 ? 2 : 1
                var y: Node
                if bottleneck {
                    y = g.conv(x, out: width, kernel: 1, activation: .relu)
                    y = g.conv(y, out: width, kernel: 3, stride: stride, activation: .relu)
                    y = g.conv(y, out: out, kernel: 1, gain: 0.3)
                } else {
                    y = g.conv(x, out: width, kernel: 3, stride: stride, activation: .relu)
                    y = g.conv(y, out: out, kernel: 3, gain: 0.3)
                }
                let shortcut = stride != 1 || x.channels != out ? g.conv(x, out: out, kernel: 1, stride: stride) : x
                x = g.activate(g.add(shortcut, y), .relu)
            }
        }
        return g.dense(g.flatten(g.globalAveragePool(x)), out: 1000)
    }
}
