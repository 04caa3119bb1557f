/// A FlatBuffers value to serialise: the subset of the format a TFLite model needs.
///
/// The wire format (flatbuffers.dev, "FlatBuffers internals"): a buffer starts with the root
/// table's offset (then an optional 4-byte file identifier); a table starts with a signed offset
/// back to its vtable (u16 vtable size, u16 table size, one u16 offset per field slot, 0 = absent);
/// references are unsigned 32-bit offsets from where they are stored, so what they point to lies
/// after them; vectors and strings are a u32 length then the elements (strings NUL-terminated).
/// Every scalar is aligned to its size from the start of the buffer.
indirect enum FlatValue {
    /// Field slot → value; slots not given are absent (the reader takes the schema's default).
    case table([Int: FlatField])
    case tables([FlatValue])
    case string(String)
    case int32s([Int32])
    /// A byte vector whose first element is aligned to `alignment` (TFLite weights: 16).
    case bytes([UInt8], alignment: Int)
}

enum FlatField {
    case byte(UInt8), bool(Bool), int32(Int32), uint32(UInt32), float(Float)
    case reference(FlatValue)

    var size: Int {
        switch self {
        case .byte, .bool: 1
        default: 4
        }
    }
}

/// Writes a `FlatValue` front to back: each object is placed, then what it references after it,
/// and the references are patched once their targets have positions.
struct FlatBufferWriter {
    private(set) var bytes: [UInt8] = []

    /// The whole buffer for `root`, with a 4-character file identifier (TFLite's is "TFL3").
    static func serialize(_ root: FlatValue, identifier: String) -> [UInt8] {
        precondition(identifier.utf8.count == 4, "a file identifier has 4 bytes")
        var writer = FlatBufferWriter()
        writer.append(UInt32(0))
        writer.bytes += Array(identifier.utf8)
        let position = writer.place(root)
        writer.patch(at: 0, to: position)
        return writer.bytes
    }

    /// Writes `value` at the end and returns its position (where a reference to it points).
    private mutating func place(_ value: FlatValue) -> Int {
        switch value {
        case .table(let fields):
            return placeTable(fields)
        case .tables(let elements):
            align(4)
            append(UInt32(elements.count))
            let slots = bytes.count
            bytes += [UInt8](repeating: 0, count: 4 * elements.count)
            for (index, element) in elements.enumerated() {
                patch(at: slots + 4 * index, to: place(element))
            }
            return slots - 4
        case .string(let text):
            align(4)
            let position = bytes.count
            let utf8 = Array(text.utf8)
            append(UInt32(utf8.count))
            bytes += utf8 + [0]
            return position
        case .int32s(let values):
            align(4)
            let position = bytes.count
            append(UInt32(values.count))
            for value in values { append(UInt32(bitPattern: value)) }
            return position
        case .bytes(let data, let alignment):
            // The length sits just before the data, which starts aligned.
            while (bytes.count + 4) % alignment != 0 { bytes.append(0) }
            let position = bytes.count
            append(UInt32(data.count))
            bytes += data
            return position
        }
    }

    /// A vtable, then the table: its offset to the vtable, 4-byte fields, then 1-byte fields.
    private mutating func placeTable(_ fields: [Int: FlatField]) -> Int {
        let slots = (fields.keys.max() ?? -1) + 1
        let order = fields.keys.sorted { (fields[$0]!.size, -$0) > (fields[$1]!.size, -$1) }
        var offsets = [Int: Int]()
        var size = 4
        for slot in order {
            offsets[slot] = size
            size += fields[slot]!.size
        }
        size = (size + 3) / 4 * 4
        align(2)
        let vtable = bytes.count
        append(UInt16(4 + 2 * slots))
        append(UInt16(size))
        for slot in 0..<slots { append(UInt16(offsets[slot] ?? 0)) }
        align(4)
        let table = bytes.count
        append(Int32(table - vtable))
        bytes += [UInt8](repeating: 0, count: size - 4)
        var references: [(at: Int, FlatValue)] = []
        for slot in order {
            let at = table + offsets[slot]!
            switch fields[slot]! {
            case .byte(let value): bytes[at] = value
            case .bool(let value): bytes[at] = value ? 1 : 0
            case .int32(let value): store(UInt32(bitPattern: value), at: at)
            case .uint32(let value): store(value, at: at)
            case .float(let value): store(value.bitPattern, at: at)
            case .reference(let target): references.append((at, target))
            }
        }
        for (at, target) in references { patch(at: at, to: place(target)) }
        return table
    }

    private mutating func patch(at position: Int, to target: Int) {
        precondition(target > position, "a FlatBuffers reference points forward")
        store(UInt32(target - position), at: position)
    }

    private mutating func align(_ alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value.littleEndian) { bytes += $0 }
    }

    private mutating func store<T: FixedWidthInteger>(_ value: T, at position: Int) {
        withUnsafeBytes(of: value.littleEndian) { raw in
            for (index, byte) in raw.enumerated() { bytes[position + index] = byte }
        }
    }
}
