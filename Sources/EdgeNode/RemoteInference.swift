import Broker
import EdgeInsightCore
import Engine
import Foundation
import Imaging
import InferenceProtocol
import LoadGen
import NIOCore

/// The device side of the cloud placements: prepares each frame in the placement's form, sends it
/// to the cloud node and waits for the answer. Spans: pre-processing (cloud-tensor, split,
/// partition), the head of the network (partition), serialize, network (the round trip less the
/// server's own time) and infer — tail for a partition — (the server's queue and compute, from the
/// response's parameters). Over a broker (`transport: mqtt`) the round trip is publish (device →
/// broker), broker (broker → consumer), infer (the server's queue and compute) and reply.
public final class RemoteInference: FrameProcessor {
    let placement: Placement
    let client: OIPClient
    /// The broker path, when frames go through one; `client` then only asked for the model's metadata.
    let broker: MQTTRequester?
    let path: String
    let inputName: String
    let tensorShape: [Int]
    let preprocessor: Preprocessor?
    let encoder: JPEGEncoder?
    let splitQuality: Int
    /// Tensors in the binary extension (ours, Triton) or as JSON (a service without it).
    let binary: Bool
    /// The partition placement's head of the network, its input buffer and the names of what it
    /// sends (the tail's inputs).
    let head: (any InferRequest)?
    let headInput: UnsafeMutableRawBufferPointer?
    let headOutputs: [String]
    var tensor: UnsafeMutableRawBufferPointer
    private(set) var counters = Counters()

    public let pipelineDescription: String
    public var applied: AppliedSettings? { nil }

    /// The model's image input as its metadata on the server gives it (a batch dimension of -1 made 1).
    public static func imageInput(of model: String, on server: String, client: OIPClient) throws -> TensorInfo {
        let metadata = try Blocking.run { try await client.getJSON("/v2/models/\(model)") }
        guard let input = metadata["inputs"]?.array?.first, let name = input["name"]?.string,
              var shape = input["shape"]?.array?.compactMap(\.int), shape.count == 4 else {
            throw EdgeNodeError.cloud("model '\(model)' on \(server) has no image input in its metadata")
        }
        if shape[0] < 0 { shape[0] = 1 }
        return TensorInfo(name: name, elementType: .f32, shape: shape)
    }

    /// A device-side sender on `client` (which several senders may share, a connection each) for
    /// the model's image `input` (`imageInput`, asked once for all senders).
    public init(placement: Placement, client: OIPClient, server: String, model: String, input info: TensorInfo, splitQuality: Int,
                binary: Bool = true, head headModel: (any CompiledModel)? = nil, broker: MQTTRequester? = nil) throws {
        self.placement = placement
        self.broker = broker
        self.binary = binary
        if placement == .partition {
            guard let headModel, headModel.inputs.count == 1 else { throw EdgeNodeError.badConfig("the partition placement needs the head of the model, with one input") }
            let request = try headModel.makeRequest()
            try request.fillInputsRandomly(headModel.inputs)
            try request.infer()   // a compiled model's first inference is slower: not a frame's
            head = request
            headInput = try request.inputBuffer(0)
            headOutputs = headModel.outputs.map(\.name)
        } else {
            head = nil
            headInput = nil
            headOutputs = []
        }
        self.splitQuality = splitQuality
        self.client = client
        path = "/v2/models/\(model)/infer"
        let shape = info.shape
        inputName = info.name
        tensorShape = shape
        switch placement {
        case .cloudTensor:
            let pipeline = try Pipeline.standard(for: info)
            preprocessor = try Preprocessor(pipeline: pipeline)
            encoder = nil
            pipelineDescription = "\(pipeline.description) on the device → FP32 tensor to \(server)"
        case .split:
            // Shrink to the model's input on the device, re-encode, and let the cloud do the rest.
            let side = shape[1] == 3 ? shape[2] : shape[1]
            let pipeline = try Pipeline(parsing: "decode → resize \(side * 8 / 7) shorter → center-crop \(side) → nhwc u8")
            preprocessor = try Preprocessor(pipeline: pipeline)
            encoder = try JPEGEncoder()
            pipelineDescription = "\(pipeline.description) → JPEG q\(splitQuality) on the device → BYTES to \(server)"
        case .partition:
            let pipeline = try Pipeline.standard(for: info)
            preprocessor = try Preprocessor(pipeline: pipeline)
            encoder = nil
            pipelineDescription = "\(pipeline.description) → the network's head on the device → \(headOutputs.joined(separator: ", ")) to the tail at \(server)"
        default:
            preprocessor = nil
            encoder = nil
            pipelineDescription = "camera JPEG as BYTES to \(server); decode and pre-processing in the cloud"
        }
        tensor = .allocate(byteCount: shape.reduce(1, *) * 4, alignment: 64)
    }

    deinit { tensor.deallocate() }

    public func process(jpeg: UnsafeRawBufferPointer?, measured: Bool, trace: inout ItemTrace) throws -> FrameResult {
        guard let jpeg else { throw EdgeNodeError.badConfig("cloud placements need JPEG frames") }
        var wire: WireTensor
        var more: [WireTensor] = []
        switch placement {
        case .partition:
            _ = try preprocessor!.run(jpeg: jpeg, into: headInput!)
            trace.mark(.preprocess, until: MonotonicClock.now())
            try head!.infer()
            trace.mark(.head, until: MonotonicClock.now())
            // What the head made is what the tail takes, by name.
            var wires: [WireTensor] = []
            for (index, name) in headOutputs.enumerated() {
                let view = try head!.output(index)
                wires.append(WireTensor(name: name, datatype: Datatype(view.elementType), shape: view.shape, data: TensorBytes(Array(view.bytes))))
            }
            wire = wires[0]
            more = Array(wires.dropFirst())
        case .cloudTensor:
            _ = try preprocessor!.run(jpeg: jpeg, into: tensor)
            trace.mark(.preprocess, until: MonotonicClock.now())
            wire = WireTensor(name: inputName, datatype: .fp32, shape: tensorShape, data: TensorBytes(Array(UnsafeRawBufferPointer(tensor))))
        case .split:
            let side = tensorShape[1] == 3 ? tensorShape[2] : tensorShape[1]
            let shape = try preprocessor!.run(jpeg: jpeg, into: UnsafeMutableRawBufferPointer(rebasing: tensor[0..<(side * side * 3)]))
            let pixels = Array(UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tensor)[0..<(shape.reduce(1, *))]))
            let image = RGBImage(width: shape[2], height: shape[1], pixels: pixels)
            let small = try encoder!.encode(image, quality: splitQuality)
            trace.mark(.preprocess, until: MonotonicClock.now())
            wire = WireTensor(name: inputName, datatype: .bytes, shape: [1], data: WireTensor.packBytes([small]))
        default:
            wire = WireTensor(name: inputName, datatype: .bytes, shape: [1], data: WireTensor.packBytes([Array(jpeg)]))
        }
        let (body, headerLength) = InferenceCodec.encodeRequest(InferenceRequest(inputs: [wire] + more), binary: binary)
        if let broker { return try publish(body, headerLength: headerLength, through: broker, measured: measured, trace: &trace) }
        let bound = client.bind(path, PreparedRequest(body: ByteBuffer(bytes: body), headerLength: headerLength, samples: 1))
        let sentAt = MonotonicClock.now()
        trace.mark(.serialize, until: sentAt)
        let client = self.client
        let outcome = Blocking.wait { done in client.infer(bound, completion: done) }
        let answeredAt = MonotonicClock.now()
        guard outcome.ok else {
            let words = outcome.message.map { ": \($0)" } ?? ""
            throw EdgeNodeError.cloud(outcome.status == 0 ? "cloud node unreachable\(words)" : "cloud node answered HTTP \(outcome.status)\(words)")
        }
        let server = (outcome.serverQueueNs ?? 0) + (outcome.serverComputeNs ?? 0)
        let roundTrip = answeredAt - sentAt
        trace.mark(.network, until: sentAt + roundTrip - min(server, roundTrip))
        trace.mark(placement == .partition ? .tail : .infer, until: answeredAt)
        counters.allSent += 1
        let answered = FrameResult(topClass: nil)
        guard measured else { return answered }
        counters.sent += 1
        counters.bodyBytes += body.count
        if let queue = outcome.serverQueueNs, let compute = outcome.serverComputeNs {
            counters.queueNs += queue
            counters.computeNs += compute
            counters.timed += 1
        }
        return answered
    }

    /// One frame through the broker. The stages come from the device's clock (send, the broker's
    /// acknowledgement, the answer) and the consumer's (when the frame arrived, in wall-clock time:
    /// exact on one machine, off by the clocks' offset across hosts): the frame reached the broker
    /// half the acknowledgement round trip before its acknowledgement came back (QoS 1; at QoS 0 the
    /// broker says nothing, and its hop is counted in `publish`).
    private func publish(_ body: [UInt8], headerLength: Int?, through broker: MQTTRequester, measured: Bool, trace: inout ItemTrace) throws -> FrameResult {
        trace.mark(.serialize, until: MonotonicClock.now())
        let answer: MQTTRequester.Answer
        do {
            answer = try body.withUnsafeBytes { bytes throws(BrokerError) in
                try broker.request(bytes, user: headerLength.map { [(InferenceCodec.headerLengthField, String($0))] } ?? [])
            }
        } catch {
            throw EdgeNodeError.cloud("\(error)")
        }
        let reply = ByteBuffer(bytes: answer.payload)
        guard answer.properties[MQTTResponder.statusProperty] == "200" else {
            let message = (try? JSONValue.parse(answer.payload))?["error"]?.string ?? "no reason given"
            throw EdgeNodeError.cloud("the consumer answered status \(answer.properties[MQTTResponder.statusProperty] ?? "none"): \(message)")
        }
        let (queue, compute) = OIPClient.serverTimings(in: reply, headerLength: answer.properties[InferenceCodec.headerLengthField].flatMap { Int($0) })
        let end = answer.answeredNs
        func clamp(_ t: UInt64, _ low: UInt64) -> UInt64 { min(max(t, low), end) }
        let consumerIn = clamp(answer.properties[MQTTResponder.receivedProperty].flatMap { UInt64($0) }
            .map { answer.sentNs &+ ($0 &- answer.sentUnixNs) } ?? answer.sentNs, answer.sentNs)
        let brokerIn: UInt64
        if let acknowledged = answer.acknowledgedNs, let roundTrip = broker.acknowledgementRoundTripNs {
            brokerIn = min(clamp(acknowledged > roundTrip / 2 ? acknowledged - roundTrip / 2 : acknowledged, answer.sentNs), consumerIn)
        } else {
            brokerIn = consumerIn
        }
        trace.mark(.publish, until: brokerIn)
        trace.mark(.broker, until: consumerIn)
        // The server's queue and compute as one stage, as over HTTP (`queue` is the device's own).
        trace.mark(placement == .partition ? .tail : .infer, until: clamp(consumerIn + (queue ?? 0) + (compute ?? 0), consumerIn))
        trace.mark(.reply, until: end)
        counters.allSent += 1
        guard measured else { return FrameResult(topClass: nil) }
        counters.sent += 1
        counters.bodyBytes += body.count
        if let queue, let compute {
            counters.queueNs += queue
            counters.computeNs += compute
            counters.timed += 1
        }
        return FrameResult(topClass: nil)
    }

    /// What a sender sent: all requests, and sums over the measured ones (means are taken once the
    /// senders' counts are added up).
    struct Counters {
        var allSent = 0, sent = 0, bodyBytes = 0, timed = 0
        var queueNs: UInt64 = 0, computeNs: UInt64 = 0

        var requestBytesMean: Double { sent > 0 ? Double(bodyBytes) / Double(sent) : 0 }
        var queueMsMean: Double? { timed > 0 ? Double(queueNs) / Double(timed) / 1e6 : nil }
        var computeMsMean: Double? { timed > 0 ? Double(computeNs) / Double(timed) / 1e6 : nil }

        static func + (a: Counters, b: Counters) -> Counters {
            Counters(allSent: a.allSent + b.allSent, sent: a.sent + b.sent, bodyBytes: a.bodyBytes + b.bodyBytes, timed: a.timed + b.timed,
                     queueNs: a.queueNs + b.queueNs, computeNs: a.computeNs + b.computeNs)
        }
    }

    func shutdown() {
        let client = self.client
        Blocking.run { await client.shutdown() }
    }
}
