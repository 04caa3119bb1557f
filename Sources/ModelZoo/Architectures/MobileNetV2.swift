/// MobileNetV2 (Sandler et al., 2018): inverted residual blocks with linear bottlenecks.
enum MobileNetV2 {
    /// (expansion t, output channels c, repeats n, first stride s), the paper's Table 2.
    static let blocks: [(t: Int, c: Int, n: Int, s: Int)] = [
        (1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1),
    ]

    static func build(_ g: inout GraphBuilder, _ input: Node, width: Double) -> Node {
        var x = g.conv(input, out: makeDivisible(32 * width), kernel: 3, stride: 2, activation: .relu6)
        for block in blocks {
            let out = makeDivisible(Double(block.c) * width)
            for i in 0..<block.n {
                let stride = i == 0 ? block.s : 1
                let shortcut = x
                var y = x
                if block.t != 1 { y = g.conv(y, out: x.channels * block.t, kernel: 1, activation: .relu6) }
                y = g.conv(y, out: y.channels, kernel: 3, stride: stride, groups: y.channels, activation: .relu6)
                y = g.conv(y, out: out, kernel: 1, gain: stride == 1 && shortcut.channels == out ? 0.3 : 1)
                x = stride == 1 && shortcut.channels == out ? g.add(shortcut, y) : y
            }
        }
        // The last layer widens only for multipliers above 1 (the paper keeps 1280 below).
        x = g.conv(x, out: makeDivisible(1280 * max(1.0, width)), kernel: 1, activation: .relu6)
        return g.dense(g.flatten(g.globalAveragePool(x)), out: 1000)
    }
}
