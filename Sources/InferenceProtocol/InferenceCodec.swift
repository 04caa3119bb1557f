import EdgeInsightCore
import Foundation

/// A decoded infer request.
public struct InferenceRequest: Sendable {
    public var id: String?
    public var parameters: [String: ParameterValue] = [:]
    public var inputs: [WireTensor]
    /// Outputs asked for by name (empty: all), each with its own binary choice if given.
    public var outputs: [RequestedOutput] = []

    public init(id: String? = nil, inputs: [WireTensor], outputs: [RequestedOutput] = []) {
        self.id = id
        self.inputs = inputs
        self.outputs = outputs
    }

    /// Whether output `name` goes back as binary data: its own `binary_data`, else the request's
    /// `binary_data_output`, else JSON.
    public func wantsBinary(_ name: String) -> Bool {
        if let own = outputs.first(where: { $0.name == name })?.binary { return own }
        return parameters["binary_data_output"]?.boolValue ?? false
    }
}

/// An output asked for in a request.
public struct RequestedOutput: Sendable, Equatable {
    public var name: String
    public var binary: Bool?

    public init(name: String, binary: Bool? = nil) {
        self.name = name
        self.binary = binary
    }
}

/// A response to an infer request.
public struct InferenceResponse: Sendable {
    public var modelName: String
    public var modelVersion: String?
    public var id: String?
    public var parameters: [String: ParameterValue] = [:]
    public var outputs: [WireTensor]

    public init(modelName: String, modelVersion: String? = nil, id: String? = nil, parameters: [String: ParameterValue] = [:], outputs: [WireTensor]) {
        self.modelName = modelName
        self.modelVersion = modelVersion
        self.id = id
        self.parameters = parameters
        self.outputs = outputs
    }
}

/// JSON and binary-extension encoding of infer requests and responses, both directions, so the
/// server and the load generator share one implementation.
public enum InferenceCodec {
    /// The header naming the JSON part's length when binary tensor data follows it.
    public static let headerLengthField = "Inference-Header-Content-Length"
    /// Upper bound on elements of one tensor (2^31), so a hostile shape cannot overflow sizes.
    static let maximumElements = 1 << 31

    // MARK: Requests

    /// Decodes a request body; `headerLength` is the `Inference-Header-Content-Length` value, if sent.
    public static func decodeRequest(_ body: [UInt8], headerLength: Int?) throws(ProtocolError) -> InferenceRequest {
        try body.withUnsafeBufferPointer { buffer in
            Result { () throws(ProtocolError) in try decodeRequest(buffer, headerLength: headerLength) }
        }.get()
    }

    /// Decodes a request body in place. With an `owner` keeping the body's memory alive (the server's
    /// path), binary parts stay where they are: the inputs are windows on the body, not copies.
    public static func decodeRequest(_ body: UnsafeBufferPointer<UInt8>, headerLength: Int?, owner: AnyObject? = nil) throws(ProtocolError) -> InferenceRequest {
        let (json, binary) = try split(body, headerLength: headerLength)
        guard let root = json.object else { throw .badRequest("the request must be a JSON object") }
        guard let inputsJSON = root["inputs"]?.array, !inputsJSON.isEmpty else { throw .badRequest("the request needs a non-empty 'inputs' array") }
        var request = InferenceRequest(inputs: [])
        if let id = root["id"] {
            guard let text = id.string else { throw .badRequest("'id' must be a string") }
            request.id = text
        }
        request.parameters = try parameters(root["parameters"], of: "the request")
        var cursor = binary.startIndex
        for (index, value) in inputsJSON.enumerated() {
            var tensor = try tensorHeader(value, what: "input #\(index)")
            if let size = tensor.parameters["binary_data_size"] {
                guard let size = size.intValue, size >= 0 else { throw .badRequest("input '\(tensor.name)': binary_data_size must be a non-negative integer") }
                guard value["data"] == nil else { throw .badRequest("input '\(tensor.name)' has both 'data' and binary_data_size") }
                guard binary.endIndex - cursor >= size else {
                    throw .badRequest("input '\(tensor.name)' declares \(size) binary bytes but only \(binary.endIndex - cursor) remain")
                }
                let part = UnsafeBufferPointer(rebasing: binary[cursor..<(cursor + size)])
                tensor.data = owner.map { TensorBytes(window: UnsafeRawBufferPointer(part), owner: $0) } ?? TensorBytes(Array(part))
                cursor += size
                try checkSize(tensor)
            } else {
                guard let data = value["data"] else { throw .badRequest("input '\(tensor.name)' has neither 'data' nor binary_data_size") }
                tensor.data = try bytes(fromJSON: data, for: tensor)
            }
            request.inputs.append(tensor)
        }
        guard cursor == binary.endIndex else {
            throw .badRequest("the body carries \(binary.endIndex - binary.startIndex) binary bytes but the inputs declare \(cursor - binary.startIndex)")
        }
        let names = request.inputs.map(\.name)
        guard Set(names).count == names.count else { throw .badRequest("an input name appears twice") }
        if let outputs = root["outputs"] {
            guard let list = outputs.array else { throw .badRequest("'outputs' must be an array") }
            for (index, output) in list.enumerated() {
                guard let name = output["name"]?.string else { throw .badRequest("output #\(index) needs a 'name'") }
                let parameters = try parameters(output["parameters"], of: "output '\(name)'")
                request.outputs.append(RequestedOutput(name: name, binary: parameters["binary_data"]?.boolValue))
            }
        }
        return request
    }

    /// Encodes a request; inputs go as binary data when `binary`, outputs are asked for in binary too.
    public static func encodeRequest(_ request: InferenceRequest, binary: Bool) -> (body: [UInt8], headerLength: Int?) {
        var json = "{"
        if let id = request.id {
            json += "\"id\":"
            JSONValue.writeString(id, to: &json)
            json += ","
        }
        json += "\"inputs\":["
        for (i, input) in request.inputs.enumerated() {
            if i > 0 { json += "," }
            writeHeader(input, binarySize: binary ? input.data.count : nil, to: &json)
            if !binary {
                json.removeLast()
                json += ",\"data\":"
                writeData(input, to: &json)
                json += "}"
            }
        }
        json += "]"
        if !request.outputs.isEmpty || binary {
            json += ",\"outputs\":["
            json += request.outputs.map { output in
                var entry = "{\"name\":"
                JSONValue.writeString(output.name, to: &entry)
                entry += ",\"parameters\":{\"binary_data\":\((output.binary ?? binary) ? "true" : "false")}}"
                return entry
            }.joined(separator: ",")
            json += "]"
            if request.outputs.isEmpty && binary {
                json += ",\"parameters\":{\"binary_data_output\":true}"
            }
        }
        json += "}"
        var body = Array(json.utf8)
        guard binary else { return (body, nil) }
        let headerLength = body.count
        for input in request.inputs { input.data.withUnsafeBytes { body.append(contentsOf: $0) } }
        return (body, headerLength)
    }

    // MARK: Responses

    /// Encodes a response; each output goes in binary when `binary(name)` says so.
    public static func encodeResponse(_ response: InferenceResponse, binary: (String) -> Bool) -> (body: [UInt8], headerLength: Int?) {
        var json = "{\"model_name\":"
        JSONValue.writeString(response.modelName, to: &json)
        if let version = response.modelVersion {
            json += ",\"model_version\":"
            JSONValue.writeString(version, to: &json)
        }
        if let id = response.id {
            json += ",\"id\":"
            JSONValue.writeString(id, to: &json)
        }
        if !response.parameters.isEmpty {
            json += ",\"parameters\":"
            writeParameters(response.parameters, to: &json)
        }
        json += ",\"outputs\":["
        var blobs: [TensorBytes] = []
        for (i, output) in response.outputs.enumerated() {
            if i > 0 { json += "," }
            if binary(output.name) {
                writeHeader(output, binarySize: output.data.count, to: &json)
                blobs.append(output.data)
            } else {
                writeHeader(output, binarySize: nil, to: &json)
                json.removeLast()
                json += ",\"data\":"
                writeData(output, to: &json)
                json += "}"
            }
        }
        json += "]}"
        var body = Array(json.utf8)
        guard !blobs.isEmpty else { return (body, nil) }
        let headerLength = body.count
        for blob in blobs { blob.withUnsafeBytes { body.append(contentsOf: $0) } }
        return (body, headerLength)
    }

    /// Decodes a response body (the client side).
    public static func decodeResponse(_ body: [UInt8], headerLength: Int?) throws(ProtocolError) -> InferenceResponse {
        try body.withUnsafeBufferPointer { buffer in
            Result { () throws(ProtocolError) in try decodeResponse(buffer, headerLength: headerLength) }
        }.get()
    }

    /// Decodes a response body in place.
    public static func decodeResponse(_ body: UnsafeBufferPointer<UInt8>, headerLength: Int?) throws(ProtocolError) -> InferenceResponse {
        let (json, binary) = try split(body, headerLength: headerLength)
        guard let root = json.object else { throw .badRequest("the response is not a JSON object") }
        if let error = root["error"]?.string { throw ProtocolError(500, error) }
        guard let name = root["model_name"]?.string, let outputs = root["outputs"]?.array else {
            throw .badRequest("the response lacks model_name or outputs")
        }
        var response = InferenceResponse(modelName: name, modelVersion: root["model_version"]?.string, id: root["id"]?.string, outputs: [])
        response.parameters = try parameters(root["parameters"], of: "the response")
        var cursor = binary.startIndex
        for (index, value) in outputs.enumerated() {
            var tensor = try tensorHeader(value, what: "output #\(index)")
            if let size = tensor.parameters["binary_data_size"]?.intValue {
                guard size >= 0, binary.endIndex - cursor >= size else { throw .badRequest("output '\(tensor.name)' binary part is short") }
                tensor.data = TensorBytes(Array(binary[cursor..<(cursor + size)]))
                cursor += size
            } else if let data = value["data"] {
                tensor.data = try bytes(fromJSON: data, for: tensor)
            }
            response.outputs.append(tensor)
        }
        return response
    }

    // MARK: Pieces

    private static func split(_ body: UnsafeBufferPointer<UInt8>, headerLength: Int?) throws(ProtocolError) -> (JSONValue, Slice<UnsafeBufferPointer<UInt8>>) {
        guard let headerLength else { return (try JSONParser.parse(body), body[body.endIndex...]) }
        guard headerLength > 0, headerLength <= body.count else {
            throw .badRequest("\(headerLengthField) is \(headerLength) but the body has \(body.count) bytes")
        }
        return (try JSONParser.parse(UnsafeBufferPointer(rebasing: body[..<headerLength])), body[headerLength...])
    }

    private static func tensorHeader(_ value: JSONValue, what: String) throws(ProtocolError) -> WireTensor {
        guard value.object != nil else { throw .badRequest("\(what) must be a JSON object") }
        guard let name = value["name"]?.string, !name.isEmpty else { throw .badRequest("\(what) needs a 'name'") }
        guard let typeName = value["datatype"]?.string else { throw .badRequest("\(what) '\(name)' needs a 'datatype'") }
        guard let datatype = Datatype(rawValue: typeName) else {
            throw .badRequest("'\(name)' has unknown datatype '\(typeName)' (use BOOL, UINT8…UINT64, INT8…INT64, FP16, FP32, FP64, BYTES)")
        }
        guard let dims = value["shape"]?.array else { throw .badRequest("'\(name)' needs a 'shape' array") }
        var shape: [Int] = []
        var elements = 1
        for dim in dims {
            guard let d = dim.int, d >= 0 else { throw .badRequest("'\(name)' shape must hold non-negative integers") }
            shape.append(d)
            elements = elements.multipliedReportingOverflow(by: max(d, 1)).overflow ? Int.max : elements * max(d, 1)
        }
        guard elements <= maximumElements else { throw .badRequest("'\(name)' shape \(TensorInfo.describe(shape)) is too large") }
        return WireTensor(name: name, datatype: datatype, shape: shape, data: [], parameters: try parameters(value["parameters"], of: "'\(name)'"))
    }

    private static func parameters(_ value: JSONValue?, of what: String) throws(ProtocolError) -> [String: ParameterValue] {
        guard let value else { return [:] }
        guard let fields = value.object else { throw .badRequest("parameters of \(what) must be an object") }
        var result: [String: ParameterValue] = [:]
        for (key, field) in fields {
            guard let parameter = ParameterValue(field) else { throw .badRequest("parameter '\(key)' of \(what) must be a boolean, number or string") }
            result[key] = parameter
        }
        return result
    }

    /// Checks a binary payload against its shape and datatype.
    private static func checkSize(_ tensor: WireTensor) throws(ProtocolError) {
        if let size = tensor.datatype.byteSize {
            let expected = tensor.elementCount * size
            guard tensor.data.count == expected else {
                throw .badRequest("input '\(tensor.name)' \(tensor.datatype.rawValue) \(TensorInfo.describe(tensor.shape)) needs \(expected) bytes, got \(tensor.data.count)")
            }
        } else {
            _ = try tensor.byteElements()
        }
    }

    /// Converts JSON `data` (flat or nested) to little-endian bytes of the tensor's datatype.
    static func bytes(fromJSON data: JSONValue, for tensor: WireTensor) throws(ProtocolError) -> TensorBytes {
        var scalars: [JSONValue] = []
        scalars.reserveCapacity(tensor.elementCount)
        var stack: [JSONValue] = [data]
        // Depth-first, left to right, without recursion (hostile nesting cannot overflow the stack).
        while let next = stack.popLast() {
            if case .array(let items) = next { stack.append(contentsOf: items.reversed()) } else { scalars.append(next) }
        }
        guard scalars.count == tensor.elementCount else {
            throw .badRequest("'\(tensor.name)' has shape \(TensorInfo.describe(tensor.shape)) (\(tensor.elementCount) elements) but 'data' holds \(scalars.count)")
        }
        let name = tensor.name
        func number(_ value: JSONValue) throws(ProtocolError) -> Double {
            switch value {
            case .int(let v): return Double(v)
            case .double(let v): return v
            default: throw .badRequest("'\(name)' is \(tensor.datatype.rawValue) but 'data' holds a non-number")
            }
        }
        func integer(_ value: JSONValue, _ range: ClosedRange<Int64>) throws(ProtocolError) -> Int64 {
            guard case .int(let v) = value, range.contains(v) else {
                throw .badRequest("'\(name)' is \(tensor.datatype.rawValue) but 'data' holds a value that is not an integer in \(range.lowerBound)…\(range.upperBound)")
            }
            return v
        }
        var out: [UInt8] = []
        out.reserveCapacity(scalars.count * (tensor.datatype.byteSize ?? 8))
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { out += $0 } }
        switch tensor.datatype {
        case .bool:
            for s in scalars {
                guard case .bool(let v) = s else { throw .badRequest("'\(name)' is BOOL but 'data' holds a non-boolean") }
                out.append(v ? 1 : 0)
            }
        case .uint8: for s in scalars { out.append(UInt8(try integer(s, 0...255))) }
        case .int8: for s in scalars { append(Int8(try integer(s, -128...127))) }
        case .uint16: for s in scalars { append(UInt16(try integer(s, 0...65535))) }
        case .int16: for s in scalars { append(Int16(try integer(s, -32768...32767))) }
        case .uint32: for s in scalars { append(UInt32(try integer(s, 0...Int64(UInt32.max)))) }
        case .int32: for s in scalars { append(Int32(try integer(s, Int64(Int32.min)...Int64(Int32.max)))) }
        case .uint64: for s in scalars { append(UInt64(try integer(s, 0...Int64.max))) }
        case .int64: for s in scalars { append(try integer(s, Int64.min...Int64.max)) }
        case .fp16: for s in scalars { append(Float16(try number(s)).bitPattern) }
        case .bf16: for s in scalars { append(UInt16(Float(try number(s)).bitPattern >> 16)) }
        case .fp32: for s in scalars { append(Float(try number(s)).bitPattern) }
        case .fp64: for s in scalars { append(try number(s).bitPattern) }
        case .bytes:
            var elements: [[UInt8]] = []
            for s in scalars {
                guard case .string(let text) = s else { throw .badRequest("'\(name)' is BYTES but 'data' holds a non-string") }
                elements.append(Array(text.utf8))
            }
            return WireTensor.packBytes(elements)
        }
        return TensorBytes(out)
    }

    private static func writeHeader(_ tensor: WireTensor, binarySize: Int?, to json: inout String) {
        json += "{\"name\":"
        JSONValue.writeString(tensor.name, to: &json)
        json += ",\"datatype\":\"\(tensor.datatype.rawValue)\",\"shape\":[" + tensor.shape.map(String.init).joined(separator: ",") + "]"
        var parameters = tensor.parameters
        parameters.removeValue(forKey: "binary_data_size")
        if let binarySize { parameters["binary_data_size"] = .int(Int64(binarySize)) }
        if !parameters.isEmpty {
            json += ",\"parameters\":"
            writeParameters(parameters, to: &json)
        }
        json += "}"
    }

    private static func writeParameters(_ parameters: [String: ParameterValue], to json: inout String) {
        json += "{"
        for (i, key) in parameters.keys.sorted().enumerated() {
            if i > 0 { json += "," }
            JSONValue.writeString(key, to: &json)
            json += ":"
            parameters[key]!.write(to: &json)
        }
        json += "}"
    }

    /// Writes a tensor's elements as a flat JSON array.
    private static func writeData(_ tensor: WireTensor, to json: inout String) {
        json += "["
        tensor.data.withUnsafeBytes { raw in
            func each<T>(_ type: T.Type, _ size: Int, _ text: (T) -> String) {
                let count = raw.count / size
                for i in 0..<count {
                    if i > 0 { json += "," }
                    json += text(raw.loadUnaligned(fromByteOffset: i * size, as: T.self))
                }
            }
            func real(_ v: Double) -> String { v.isFinite ? "\(v)" : "null" }
            switch tensor.datatype {
            case .bool: each(UInt8.self, 1) { $0 != 0 ? "true" : "false" }
            case .uint8: each(UInt8.self, 1) { String($0) }
            case .int8: each(Int8.self, 1) { String($0) }
            case .uint16: each(UInt16.self, 2) { String(UInt16(littleEndian: $0)) }
            case .int16: each(Int16.self, 2) { String(Int16(littleEndian: $0)) }
            case .uint32: each(UInt32.self, 4) { String(UInt32(littleEndian: $0)) }
            case .int32: each(Int32.self, 4) { String(Int32(littleEndian: $0)) }
            case .uint64: each(UInt64.self, 8) { String(UInt64(littleEndian: $0)) }
            case .int64: each(Int64.self, 8) { String(Int64(littleEndian: $0)) }
            case .fp16: each(UInt16.self, 2) { real(Double(Float16(bitPattern: UInt16(littleEndian: $0)))) }
            case .bf16: each(UInt16.self, 2) { real(Double(Float(bitPattern: UInt32(UInt16(littleEndian: $0)) << 16))) }
            case .fp32: each(UInt32.self, 4) { v in let f = Float(bitPattern: UInt32(littleEndian: v)); return f.isFinite ? "\(f)" : "null" }
            case .fp64: each(UInt64.self, 8) { real(Double(bitPattern: UInt64(littleEndian: $0))) }
            case .bytes: break
            }
        }
        if tensor.datatype == .bytes, let elements = try? tensor.byteElements() {
            json += elements.map { element -> String in
                var text = ""
                JSONValue.writeString(String(decoding: element, as: UTF8.self), to: &text)
                return text
            }.joined(separator: ",")
        }
        json += "]"
    }
}
