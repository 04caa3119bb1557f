import EdgeInsightCore
import Foundation
import Results
import Testing
import TestSupport

/// Seldon MLServer as the cloud node of an experiment (`cloud: {url: …}`): nothing is started, the
/// edge node sends JSON tensors (MLServer has no binary extension), a trial the service refuses
/// fails with the service's own words, and the bearer token never reaches the logs.
@Suite(.timeLimit(.minutes(5))) struct ExternalServiceTests {
    static let imageRuntime = """
        from mlserver import MLModel
        from mlserver.codecs import NumpyCodec
        from mlserver.types import InferenceRequest, InferenceResponse


        class ImageRuntime(MLModel):
            async def load(self) -> bool:
                return True

            async def predict(self, payload: InferenceRequest) -> InferenceResponse:
                if payload.inputs[0].datatype != "FP32":
                    raise ValueError("image expects an FP32 tensor")
                x = NumpyCodec.decode_input(payload.inputs[0])
                return InferenceResponse(model_name=self.name, outputs=[NumpyCodec.encode_output("scores", x.mean(axis=(2, 3)))])
        """
    static let imageSettings = """
        {"name": "image", "implementation": "image_runtime.ImageRuntime",
         "inputs": [{"name": "input", "datatype": "FP32", "shape": [-1, 3, 224, 224]}],
         "outputs": [{"name": "scores", "datatype": "FP32", "shape": [-1, 3]}]}
        """

    @Test func mlserverAsTheCloudNode() throws {
        let server = try MLServerProcess(models: ["image": (Self.imageSettings, "image_runtime.py", Self.imageRuntime)])
        defer { server.stop() }
        let folder = temporaryPath("external")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try "secret-token-4711\n".write(toFile: folder + "/token", atomically: true, encoding: .utf8)
        try """
            name: external
            model: mobilenet_v2
            workload: {fps: 4, warmup: 0.5s, duration: 2s, window: 1s}
            cloud: {url: \(server.url), model: image, token_file: \(folder)/token}
            trials:
              - {placement: cloud-tensor}
              - {placement: cloud-raw}
            """.write(toFile: folder + "/exp.yaml", atomically: true, encoding: .utf8)
        let result = try edgeinsight(["run", folder + "/exp.yaml", "--out", folder + "/out"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let database = try ResultsDatabase(path: folder + "/out/results.sqlite")
        let trials = try database.trials(run: try database.run("external").id)
        let tensor = trials.first { $0.config.placement == .cloudTensor }
        let raw = trials.first { $0.config.placement == .cloudRaw }
        #expect(tensor?.ok == true, "\(String(describing: tensor?.reason))")
        #expect(tensor?.applied.cloudConfinement == "external service \(server.url) (nothing started); server-side times client-side only",
                "\(String(describing: tensor?.applied))")
        #expect(tensor?.applied.linkShaping == "none: the real network to \(server.url)")
        #expect((tensor?.metric(.throughput) ?? 0) > 2, "\(String(describing: tensor?.metrics))")
        // 150,528 floats as JSON text: far more than their 602,112 binary bytes would be.
        #expect((tensor?.metric(.requestBytes) ?? 0) > 700_000, "\(String(describing: tensor?.metric(.requestBytes)))")
        // The JPEG as BYTES: refused by the service, in its words; the sweep went on.
        #expect(raw?.ok == false && raw?.reason?.contains("cloud node answered HTTP") == true
                && raw?.reason?.contains("image expects an FP32 tensor") == true, "\(String(describing: raw?.reason))")
        // What the edge node was told is kept, without the token.
        let logs = try FileManager.default.contentsOfDirectory(atPath: folder + "/out/logs").filter { $0.hasSuffix("-agent-node.json") }
        #expect(!logs.isEmpty)
        for file in logs {
            let text = try String(contentsOfFile: folder + "/out/logs/" + file, encoding: .utf8)
            #expect(!text.contains("secret-token-4711") && text.contains("(from cloud.token_file)"), "\(text)")
        }
    }
}
