/// A plain-text table with aligned columns: numbers right, text left.
public struct TextTable {
    public var header: [String]
    public var rows: [[String]] = []

    public init(_ header: [String]) { self.header = header }

    public mutating func add(_ row: [String]) { rows.append(row) }

    public var rendered: String {
        let all = [header] + rows
        let columns = all.map(\.count).max() ?? 0
        var widths = Array(repeating: 0, count: columns)
        for row in all { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        func line(_ row: [String]) -> String {
            row.enumerated().map { i, cell in
                let padding = String(repeating: " ", count: widths[i] - cell.count)
                let numeric = cell.first.map { $0.isNumber || $0 == "-" } ?? false
                return numeric && i > 0 ? padding + cell : cell + padding
            }.joined(separator: "  ").trimmingTrailingSpaces()
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var text = self
        while text.hasSuffix(" ") { text.removeLast() }
        return text
    }
}

/// Human formatting of large counts: 3.5M, 300M, 4.1G.
public enum CountText {
    public static func format(_ value: Double) -> String {
        let magnitude = abs(value)
        if magnitude >= 1e9 { return UnitFormat.significant(value / 1e9) + "G" }
        if magnitude >= 1e6 { return UnitFormat.significant(value / 1e6) + "M" }
        if magnitude >= 1e3 { return UnitFormat.significant(value / 1e3) + "k" }
        return UnitFormat.significant(value)
    }
}
