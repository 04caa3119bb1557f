/// An image's width and height in pixels, written `640x480`.
public struct PixelSize: Sendable, Codable, Hashable, CustomStringConvertible {
    public var width: Int
    public var height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }

    /// Parses `WIDTHxHEIGHT` (either case of x); with `squareAllowed`, a single number is a square.
    /// Sizes are whole numbers ≥ 0; which range is usable is the caller's to say.
    public init?(parsing text: String, squareAllowed: Bool = false) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false)
        guard parts.count == 2 || (squareAllowed && parts.count == 1),
              let width = Int(parts[0]), let height = Int(parts[parts.count - 1]), width >= 0, height >= 0 else { return nil }
        self.init(width: width, height: height)
    }

    public var pixels: Int { width * height }
    public var description: String { "\(width)x\(height)" }
}
