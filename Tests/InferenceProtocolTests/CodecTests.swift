import Foundation
@testable import InferenceProtocol
import Testing

@Suite struct CodecTests {
    func floats(_ values: [Float]) -> TensorBytes { TensorBytes(values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) }) }

    @Test func jsonRequestWithNestedDataDecodes() throws {
        let body = #"{"id":"r1","inputs":[{"name":"x","shape":[2,2],"datatype":"FP32","data":[[1,2.5],[3,-4]]},{"name":"n","shape":[3],"datatype":"INT64","data":[1,-2,3]}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]}"#
        let request = try InferenceCodec.decodeRequest(Array(body.utf8), headerLength: nil)
        #expect(request.id == "r1")
        #expect(request.inputs[0].floats() == [1, 2.5, 3, -4])
        let expected: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0] + [0xFE] + [UInt8](repeating: 0xFF, count: 7) + [3, 0, 0, 0, 0, 0, 0, 0]
        #expect(Array(request.inputs[1].data) == expected)
        #expect(request.wantsBinary("y"))
        #expect(!request.wantsBinary("z"))
    }

    @Test func binaryRequestRoundTripsThroughTheEncoder() throws {
        let input = WireTensor(name: "pixels", datatype: .fp32, shape: [1, 4], data: floats([0.5, 1, 2, 3]))
        let jpegs = WireTensor(name: "frames", datatype: .bytes, shape: [2], data: WireTensor.packBytes([[1, 2, 3], [9]]))
        let original = InferenceRequest(id: "a", inputs: [input, jpegs], outputs: [RequestedOutput(name: "out")])
        for binary in [true, false] {
            let (body, length) = InferenceCodec.encodeRequest(original, binary: binary)
            #expect((length != nil) == binary)
            let decoded = try InferenceCodec.decodeRequest(body, headerLength: length)
            #expect(decoded.inputs[0] == WireTensor(name: "pixels", datatype: .fp32, shape: [1, 4], data: input.data, parameters: decoded.inputs[0].parameters))
            // Bytes that are not UTF-8 only survive in binary; these are ASCII control bytes, fine either way.
            #expect(try decoded.inputs[1].byteElements() == [[1, 2, 3], [9]])
            #expect(decoded.wantsBinary("out") == binary)
        }
    }

    /// The server's path: with an owner, a binary input is a window on the body (no copy), and the
    /// tensor keeps the body alive after everyone else has let it go.
    @Test func binaryInputsDecodedWithAnOwnerAreWindowsOnTheBody() throws {
        final class Body {
            let bytes: UnsafeMutableBufferPointer<UInt8>
            init(_ contents: [UInt8]) {
                bytes = .allocate(capacity: contents.count)
                _ = bytes.initialize(from: contents)
            }
            deinit { bytes.deallocate() }
        }
        let input = WireTensor(name: "pixels", datatype: .uint8, shape: [1, 4], data: [7, 8, 9, 10])
        let (encoded, length) = InferenceCodec.encodeRequest(InferenceRequest(inputs: [input]), binary: true)
        weak var released: Body?
        var decoded: InferenceRequest
        do {
            let body = Body(encoded)
            released = body
            decoded = try InferenceCodec.decodeRequest(UnsafeBufferPointer(body.bytes), headerLength: length, owner: body)
            decoded.inputs[0].data.withUnsafeBytes { #expect($0.baseAddress == UnsafeRawPointer(body.bytes.baseAddress! + encoded.count - 4)) }
        }
        #expect(released != nil)
        #expect(Array(decoded.inputs[0].data) == [7, 8, 9, 10])
        decoded.inputs = []
        #expect(released == nil)
    }

    @Test func responseRoundTripsInBothEncodings() throws {
        let output = WireTensor(name: "logits", datatype: .fp32, shape: [1, 3], data: floats([0.1, -2, 3.25]))
        let response = InferenceResponse(modelName: "m", modelVersion: "1", id: "q", parameters: ["queue_time_ns": .int(42)], outputs: [output])
        for binary in [true, false] {
            let (body, length) = InferenceCodec.encodeResponse(response) { _ in binary }
            let decoded = try InferenceCodec.decodeResponse(body, headerLength: length)
            #expect(decoded.outputs[0].floats() == [0.1, -2, 3.25])
            #expect(decoded.parameters["queue_time_ns"] == .int(42))
            #expect(decoded.modelVersion == "1" && decoded.id == "q")
        }
    }

    @Test(arguments: [
        (#"not json"#, nil as Int?, "malformed JSON"),
        (#"[1,2]"#, nil, "JSON object"),
        (#"{"inputs":[]}"#, nil, "non-empty 'inputs'"),
        (#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP33","data":[1,2]}]}"#, nil, "unknown datatype 'FP33'"),
        (#"{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}"#, nil, "non-negative"),
        (#"{"inputs":[{"name":"x","shape":[3],"datatype":"FP32","data":[1,2]}]}"#, nil, "holds 2"),
        (#"{"inputs":[{"name":"x","shape":[1],"datatype":"UINT8","data":[300]}]}"#, nil, "not an integer in 0…255"),
        (#"{"inputs":[{"name":"x","shape":[1],"datatype":"BOOL","data":[1]}]}"#, nil, "non-boolean"),
        (#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":["a"]}]}"#, nil, "non-number"),
        (#"{"inputs":[{"name":"x","shape":[1],"datatype":"FP32"}]}"#, nil, "neither 'data' nor binary_data_size"),
        (#"{"inputs":[{"name":"x","shape":[99999,99999,99999],"datatype":"FP32","data":[]}]}"#, nil, "too large"),
        (#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#, 500, "but the body has"),
        (#"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":4}}]}"#, -1, "Content-Length"),
    ])
    func badRequestsAreRejectedWithAReason(body: String, headerLength: Int?, mentions: String) {
        do {
            _ = try InferenceCodec.decodeRequest(Array(body.utf8), headerLength: headerLength)
            Issue.record("should be rejected: \(body)")
        } catch {
            #expect(error.status == 400)
            #expect(error.message.contains(mentions), "\(error.message)")
        }
    }

    @Test func binarySizesMustAddUp() throws {
        let header = #"{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}"#
        let base = Array(header.utf8)
        #expect(throws: ProtocolError.self) { try InferenceCodec.decodeRequest(base + [1, 2, 3], headerLength: base.count) }   // short
        #expect(throws: ProtocolError.self) { try InferenceCodec.decodeRequest(base + [UInt8](repeating: 0, count: 12), headerLength: base.count) }   // extra
        let ok = try InferenceCodec.decodeRequest(base + floats([1, 2]), headerLength: base.count)
        #expect(ok.inputs[0].floats() == [1, 2])
        let badBytes = WireTensor(name: "b", datatype: .bytes, shape: [1], data: [200, 0, 0, 0, 1])
        #expect(throws: ProtocolError.self) { try badBytes.byteElements() }
    }
}
