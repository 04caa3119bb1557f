/// MobileNetV3 Large and Small (Howard et al., 2019), tables 1 and 2 of the paper.
enum MobileNetV3 {
    /// (kernel, expanded channels, output channels, squeeze-excite, hard-swish, stride)
    typealias Block = (k: Int, exp: Int, out: Int, se: Bool, hs: Bool, s: Int)

    static let large: [Block] = [
        (3, 16, 16, false, false, 1), (3, 64, 24, false, false, 2), (3, 72, 24, false, false, 1),
        (5, 72, 40, true, false, 2), (5, 120, 40, true, false, 1), (5, 120, 40, true, false, 1),
        (3, 240, 80, false, true, 2), (3, 200, 80, false, true, 1), (3, 184, 80, false, true, 1),
        (3, 184, 80, false, true, 1), (3, 480, 112, true, true, 1), (3, 672, 112, true, true, 1),
        (5, 672, 160, true, true, 2), (5, 960, 160, true, true, 1), (5, 960, 160, true, true, 1),
    ]

    static let small: [Block] = [
        (3, 16, 16, true, false, 2), (3, 72, 24, false, false, 2), (3, 88, 24, false, false, 1),
        (5, 96, 40, true, true, 2), (5, 240, 40, true, true, 1), (5, 240, 40, true, true, 1),
        (5, 120, 48, true, true, 1), (5, 144, 48, true, true, 1), (5, 288, 96, true, true, 2),
        (5, 576, 96, true, true, 1), (5, 576, 96, true, true, 1),
    ]

    static func build(_ g: inout GraphBuilder, _ input: Node, blocks: [Block], lastConv: Int, head: Int) -> Node {
        var x = g.conv(input, out: 16, kernel: 3, stride: 2, activation: .hardSwish)
        for block in blocks {
            let activation: Activation = block.hs ? .hardSwish : .relu
            let shortcut = x
            var y = x
            if block.exp != x.channels { y = g.conv(y, out: block.exp, kernel: 1, activation: activation) }
            y = g.conv(y, out: block.exp, kernel: block.k, stride: block.s, groups: block.exp, activation: activation)
            if block.se {
                y = g.squeezeExcite(y, squeezed: makeDivisible(Double(block.exp) / 4), activation: .relu) { g, z in g.hardSigmoid(z) }
            }
            let residual = block.s == 1 && shortcut.channels == block.out
            y = g.conv(y, out: block.out, kernel: 1, gain: residual ? 0.3 : 1)
            x = residual ? g.add(shortcut, y) : y
        }
        x = g.conv(x, out: lastConv, kernel: 1, activation: .hardSwish)
        let pooled = g.flatten(g.globalAveragePool(x))
        return g.dense(g.dense(pooled, out: head, activation: .hardSwish), out: 1000)
    }
}
