/// SqueezeNet 1.1 (Iandola et al., 2016; v1.1 from the authors' repository): fire modules.
enum SqueezeNet {
    static func build(_ g: inout GraphBuilder, _ input: Node) -> Node {
        func fire(_ g: inout GraphBuilder, _ x: Node, squeeze: Int, expand: Int) -> Node {
            let s = g.conv(x, out: squeeze, kernel: 1, activation: .relu)
            return g.concat([g.conv(s, out: expand, kernel: 1, activation: .relu), g.conv(s, out: expand, kernel: 3, activation: .relu)])
        }
        var x = g.conv(input, out: 64, kernel: 3, stride: 2, pad: 0, activation: .relu)
        x = g.maxPool(x, kernel: 3, stride: 2, ceil: true)
        x = fire(&g, x, squeeze: 16, expand: 64)
        x = fire(&g, x, squeeze: 16, expand: 64)
        x = g.maxPool(x, kernel: 3, stride: 2, ceil: true)
        x = fire(&g, x, squeeze: 32, expand: 128)
        x = fire(&g, x, squeeze: 32, expand: 128)
        x = g.maxPool(x, kernel: 3, stride: 2, ceil: true)
        x = fire(&g, x, squeeze: 48, expand: 192)
        x = fire(&g, x, squeeze: 48, expand: 192)
        x = fire(&g, x, squeeze: 64, expand: 256)
        x = fire(&g, x, squeeze: 64, expand: 256)
        x = g.conv(x, out: 1000, kernel: 1, activation: .relu)
        return g.flatten(g.globalAveragePool(x))
    }
}
