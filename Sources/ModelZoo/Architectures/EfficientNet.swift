/// EfficientNet-B0 (Tan & Le, 2019), Table 1: MBConv blocks with squeeze-excite and swish.
enum EfficientNet {
    /// (expansion, kernel, first stride, output channels, repeats)
    static let b0: [(e: Int, k: Int, s: Int, c: Int, n: Int)] = [
        (1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
        (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1),
    ]

    static func build(_ g: inout GraphBuilder, _ input: Node) -> Node {
        var x = g.conv(input, out: 32, kernel: 3, stride: 2, activation: .swish)
        for stage in b0 {
            for i in 0..<stage.n {
                let stride = i == 0 ? stage.s : 1
                let shortcut = x
                var y = x
                let expanded = x.channels * stage.e
                if stage.e != 1 { y = g.conv(y, out: expanded, kernel: 1, activation: .swish) }
                y = g.conv(y, out: expanded, kernel: stage.k, stride: stride, groups: expanded, activation: .swish)
                // The squeeze width is a quarter of the block's *input* channels.
                y = g.squeezeExcite(y, squeezed: max(1, shortcut.channels / 4), activation: .swish) { g, z in g.sigmoid(z) }
                let residual = stride == 1 && shortcut.channels == stage.c
                y = g.conv(y, out: stage.c, kernel: 1, gain: residual ? 0.3 : 1)
                x = residual ? g.add(shortcut, y) : y
            }
        }
        x = g.conv(x, out: 1280, kernel: 1, activation: .swish)
        return g.dense(g.flatten(g.globalAveragePool(x)), out: 1000)
    }
}
