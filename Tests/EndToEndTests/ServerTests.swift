import EdgeInsightCore
import Engine
import Foundation
import Imaging
import ModelZoo
import TestSupport
import Testing

/// Logits of the in-process engine for one input, the reference the server must match.
func referenceLogits(model: String, input: [Float]) throws -> [Float] {
    var settings = EngineSettings()
    settings.precision = .f32
    let compiled = try OpenVINOEngine().compile(modelAt: try ModelZoo.cachedFile(try ModelZoo.model(named: model)), settings: settings)
    let request = try compiled.makeRequest()
    input.withUnsafeBytes { try! request.inputBuffer(0).copyMemory(from: $0) }
    try request.infer()
    return try request.output(0).floats()
}

func writeFloats(_ values: [Float], to path: String) throws {
    try values.withUnsafeBytes { Data($0) }.write(to: URL(fileURLWithPath: path))
}

@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: Requirements.tritonClient, "needs Triton's Python client in .deps/python: run scripts/setup")) struct TritonClientTests {
    /// Triton's own Python client drives our server: health, metadata, JSON and binary infer, a batch
    /// of 4, and a JPEG sent as BYTES; every output must equal the in-process engine's.
    @Test func tritonclientAgreesWithTheInProcessEngine() throws {
        let server = try ServerProcess(["--model", "mobilenet_v3_small", "--precision", "f32", "--max-batch", "4"])
        defer { server.stop() }
        var random = SeededRandom(seed: 21)
        let input = (0..<(3 * 224 * 224)).map { _ in random.nextSignedUnitFloat() }
        let logits = try referenceLogits(model: "mobilenet_v3_small", input: input)

        let camera = try SyntheticCamera(width: 640, height: 480, seed: 5)
        let jpeg = try JPEGEncoder().encode(camera.frame(3), quality: 85)
        let preprocessor = try Preprocessor(pipeline: try Pipeline(parsing: "imagenet-fast"))
        var tensor = [Float](repeating: 0, count: 3 * 224 * 224)
        _ = try tensor.withUnsafeMutableBytes { out in
            try jpeg.withUnsafeBytes { data in Result { () throws(ImagingError) in try preprocessor.run(jpeg: data, into: out) } }.get()
        }
        let jpegLogits = try referenceLogits(model: "mobilenet_v3_small", input: tensor)

        let folder = temporaryPath("triton")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeFloats(input, to: folder + "/input.bin")
        try writeFloats(logits, to: folder + "/logits.bin")
        try writeFloats(jpegLogits, to: folder + "/jpeg-logits.bin")
        try Data(jpeg).write(to: URL(fileURLWithPath: folder + "/frame.jpg"))

        let script = #"""
        import sys, json, numpy as np
        import tritonclient.http as httpclient
        url, folder = sys.argv[1], sys.argv[2]
        client = httpclient.InferenceServerClient(url=url)
        x = np.fromfile(folder + "/input.bin", dtype=np.float32).reshape(1, 3, 224, 224)
        ref = np.fromfile(folder + "/logits.bin", dtype=np.float32).reshape(1, 1000)
        jref = np.fromfile(folder + "/jpeg-logits.bin", dtype=np.float32).reshape(1, 1000)
        out = {"live": client.is_server_live(), "ready": client.is_server_ready(),
               "model_ready": client.is_model_ready("mobilenet_v3_small"),
               "extensions": client.get_server_metadata()["extensions"],
               "input_shape": client.get_model_metadata("mobilenet_v3_small")["inputs"][0]["shape"]}
        def infer(array, binary, datatype="FP32"):
            i = httpclient.InferInput("input", list(array.shape), datatype)
            i.set_data_from_numpy(array, binary_data=binary)
            o = httpclient.InferRequestedOutput("logits", binary_data=binary)
            result = client.infer("mobilenet_v3_small", [i], outputs=[o])
            return result.as_numpy("logits"), result.get_response().get("parameters", {})
        def diff(a, b): return float(np.max(np.abs(a - b)) / max(1.0, float(np.max(np.abs(b)))))
        y, params = infer(x, False); out["json"] = diff(y, ref); out["json_shape"] = list(y.shape)
        out["server_timings"] = sorted(params.keys())
        y, _ = infer(x, True); out["binary"] = diff(y, ref)
        y, params = infer(np.repeat(x, 4, axis=0), True); out["batch_shape"] = list(y.shape)
        out["batch"] = max(diff(y[k:k + 1], ref) for k in range(4))
        jpeg = np.array([open(folder + "/frame.jpg", "rb").read()], dtype=np.object_)
        y, _ = infer(jpeg, True, "BYTES"); out["jpeg"] = diff(y, jref)
        print(json.dumps(out))
        """#
        let result = try python(script, ["127.0.0.1:\(server.port)", folder])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)\(result.stderr)")
        #expect(report["live"] as? Bool == true && report["ready"] as? Bool == true && report["model_ready"] as? Bool == true)
        #expect((report["extensions"] as? [String])?.contains("binary_tensor_data") == true)
        #expect(report["input_shape"] as? [Int] == [-1, 3, 224, 224])
        #expect(report["json_shape"] as? [Int] == [1, 1000])
        #expect(report["batch_shape"] as? [Int] == [4, 1000])
        #expect(report["server_timings"] as? [String] == ["batch_size", "compute_time_ns", "queue_time_ns"])
        for key in ["json", "binary", "batch", "jpeg"] {
            let difference = try #require(report[key] as? Double, "\(key) missing")
            #expect(difference < 1e-4, "\(key): relative difference \(difference)")
        }
    }
}

@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: Requirements.tritonClient, "needs Triton's Python client in .deps/python: run scripts/setup")) struct DynamicShapeServingTests {
    /// An exporter-style model (Constant-node weights, opset 11, input [N,3,H,W]) served as it is:
    /// two image sizes through tritonclient with binary data, each answer of the right shapes and
    /// equal to the in-process engine compiled for that size; a batch joins only equal shapes.
    @Test func servesTwoImageSizesFromOneCompiledModel() throws {
        let folder = temporaryPath("dynamic")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let corpus = try python("import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')",
                                [repositoryRoot + "/Tests/Fixtures/onnx_corpus.py", folder])
        try #require(corpus.status == 0, "\(corpus.stderr)")
        let model = folder + "/exported_cnn.onnx"
        let server = try ServerProcess(["--model", model, "--precision", "f32", "--max-batch", "4", "--max-queue-delay", "300ms"])
        defer { server.stop() }

        let script = #"""
        import sys, json, numpy as np, threading
        import tritonclient.http as httpclient
        url = sys.argv[1]
        client = httpclient.InferenceServerClient(url=url, concurrency=4)
        def image(h, w):
            return np.sin(np.arange(3 * h * w, dtype=np.float64) * 0.001).astype(np.float32).reshape(1, 3, h, w)
        def infer(x):
            i = httpclient.InferInput("images", list(x.shape), "FP32")
            i.set_data_from_numpy(x, binary_data=True)
            return client.infer("exported_cnn", [i])
        out = {"metadata": client.get_model_metadata("exported_cnn")}
        for h, w in [(96, 128), (64, 80)]:
            r = infer(image(h, w))
            out[f"{h}x{w}"] = {o["name"]: {"shape": o["shape"], "values": r.as_numpy(o["name"]).ravel().tolist()} for o in r.get_response()["outputs"]}
        # Two sizes at once, twice each: the batcher may join equal shapes only.
        def send(h, w):
            i = httpclient.InferInput("images", [1, 3, h, w], "FP32")
            i.set_data_from_numpy(image(h, w), binary_data=True)
            return client.async_infer("exported_cnn", [i])
        pending = [send(h, w) for h, w in [(96, 128), (64, 80), (96, 128), (64, 80)]]
        out["mixed"] = [[int(r.get_response()["parameters"]["batch_size"]), r.get_response()["outputs"][1]["shape"]] for r in (p.get_result() for p in pending)]
        try:
            infer(np.zeros((1, 4, 32, 32), np.float32)); out["wrong"] = "accepted"
        except Exception as e:
            out["wrong"] = str(e)
        print(json.dumps(out))
        """#
        let result = try python(script, ["127.0.0.1:\(server.port)"])
        try #require(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        let metadata = try #require(report["metadata"] as? [String: Any])
        let input = try #require((metadata["inputs"] as? [[String: Any]])?.first)
        #expect(input["shape"] as? [Int] == [-1, 3, -1, -1])

        for (h, w) in [(96, 128), (64, 80)] {
            let answer = try #require(report["\(h)x\(w)"] as? [String: [String: Any]])
            var settings = EngineSettings()
            settings.precision = .f32
            settings.shapes = ["images": [1, 3, h, w]]
            let compiled = try OpenVINOEngine().compile(modelAt: model, settings: settings)
            let request = try compiled.makeRequest()
            let pixels = (0..<(3 * h * w)).map { Float(sin(Double($0) * 0.001)) }
            pixels.withUnsafeBytes { try! request.inputBuffer(0).copyMemory(from: $0) }
            try request.infer()
            // The head's mask is twice the pooled size: ceil-mode pooling then a 2× resize.
            let expectedShapes = [[1, 10], [1, 1, 2 * ((h / 2 + 1) / 2 + 1), 2 * ((w / 2 + 1) / 2 + 1)]]
            for (index, info) in compiled.outputs.enumerated() {
                let served = try #require(answer[info.name])
                let view = try request.output(index)
                #expect(served["shape"] as? [Int] == view.shape)
                #expect(view.shape == expectedShapes[index], "\(info.name) at \(h)×\(w)")
                let values = try #require(served["values"] as? [Double])
                let reference = view.floats()
                #expect(values.count == reference.count)
                let worst = zip(values, reference).map { abs($0 - Double($1)) }.max() ?? 1
                #expect(worst < 1e-4, "\(info.name) at \(h)×\(w): max difference \(worst)")
            }
        }
        let mixed = try #require(report["mixed"] as? [[Any]])
        for entry in mixed {
            let batch = try #require(entry[0] as? Int), shape = try #require(entry[1] as? [Int])
            #expect(batch <= 2 && shape[0] == 1, "a batch mixed shapes: \(mixed)")
        }
        #expect((report["wrong"] as? String)?.contains("input 'images' has shape [?,3,?,?]") == true, "\(report["wrong"] ?? "")")
    }
}

@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: Requirements.tritonClient, "needs Triton's client: run scripts/setup"))
struct FrameworkServingTests {
    /// The cloud node on OpenCV DNN: metadata as for any model, a batch of 2 through tritonclient,
    /// each row's logits those of the in-process OpenVINO engine (FP32) within 1e-3 of their range.
    @Test(.enabled(if: Requirements.openCV, "needs the OpenCV DNN shim: run scripts/setup"))
    func servesWithOpenCVAsOpenVINOWould() throws {
        try servesAsOpenVINOWould(engine: .opencv, platform: "opencv_onnx", layout: "nchw")
    }

    /// The same on LiteRT, which takes the zoo's TFLite file: its input is NHWC, as the metadata says.
    @Test(.enabled(if: Requirements.liteRT, "needs LiteRT's wheel: run scripts/setup"))
    func servesWithLiteRTAsOpenVINOWould() throws {
        try servesAsOpenVINOWould(engine: .litert, platform: "litert_tflite", layout: "nhwc")
    }

    private func servesAsOpenVINOWould(engine: EngineKind, platform: String, layout: String) throws {
        let server = try ServerProcess(["--model", "squeezenet1_1", "--engine", engine.rawValue, "--max-batch", "2", "--max-queue-delay", "200ms"])
        defer { server.stop() }
        var random = SeededRandom(seed: 5)
        let input = (0..<(3 * 224 * 224)).map { _ in random.nextSignedUnitFloat() }
        let logits = try referenceLogits(model: "squeezenet1_1", input: input)
        let folder = temporaryPath("\(engine.rawValue)-serve")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try writeFloats(input, to: folder + "/input.bin")
        try writeFloats(logits, to: folder + "/logits.bin")
        let script = #"""
        import sys, json, numpy as np
        import tritonclient.http as httpclient
        client = httpclient.InferenceServerClient(url=sys.argv[1])
        x = np.fromfile(sys.argv[2] + "/input.bin", dtype=np.float32).reshape(1, 3, 224, 224)
        if sys.argv[3] == "nhwc":
            x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
        ref = np.fromfile(sys.argv[2] + "/logits.bin", dtype=np.float32)
        meta = client.get_model_metadata("squeezenet1_1")
        i = httpclient.InferInput("input", [2] + list(x.shape[1:]), "FP32")
        i.set_data_from_numpy(np.repeat(x, 2, axis=0), binary_data=True)
        y = client.infer("squeezenet1_1", [i]).as_numpy("logits")
        scale = max(1.0, float(np.max(np.abs(ref))))
        print(json.dumps({"platform": meta["platform"], "input": meta["inputs"][0]["shape"], "shape": list(y.shape),
                          "diff": max(float(np.max(np.abs(y[k] - ref))) / scale for k in range(2))}))
        """#
        let result = try python(script, ["127.0.0.1:\(server.port)", folder, layout])
        try #require(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        #expect(report["platform"] as? String == platform)
        #expect(report["input"] as? [Int] == (layout == "nhwc" ? [-1, 224, 224, 3] : [-1, 3, 224, 224]))
        #expect(report["shape"] as? [Int] == [2, 1000])
        let difference = try #require(report["diff"] as? Double)
        #expect(difference < 1e-3, "relative difference \(difference)")
    }
}

@Suite(.serialized, .timeLimit(.minutes(5)), .enabled(if: Requirements.tritonClient, "needs Python with Triton's client in .deps/python: run scripts/setup")) struct ServerRobustnessTests {
    /// ≥ 10,000 malformed or random requests: every answer is a 4xx with a JSON error body, the
    /// server stays up, and a good request still works afterwards.
    @Test func fuzzedRequestsGetFourHundredsAndTheServerStaysUp() throws {
        let server = try ServerProcess(["--model", "add", "--model", "squeezenet1_1", "--max-body", "256kB"])
        defer { server.stop() }
        let script = #"""
        import sys, json, random, struct, http.client
        port, count = int(sys.argv[1]), int(sys.argv[2])
        rng = random.Random(1234)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        def send(method, path, body=b"", headers=None):
            global conn
            for attempt in range(2):
                try:
                    conn.request(method, path, body=body, headers=headers or {})
                    r = conn.getresponse()
                    return r.status, r.read()
                except (http.client.HTTPException, ConnectionError, BrokenPipeError):
                    conn.close(); conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            raise RuntimeError("connection failed twice")
        types = ["FP32", "INT64", "UINT8", "BOOL", "BYTES", "FP16", "INT8", "FP64", "nope", "", 7, None]
        def rand_value(depth=0):
            k = rng.randrange(8 if depth < 3 else 5)
            return [lambda: rng.random() * 1e6 - 5e5, lambda: rng.randrange(-2**40, 2**40), lambda: "s" * rng.randrange(5),
                    lambda: rng.random() < 0.5, lambda: None, lambda: [rand_value(depth + 1) for _ in range(rng.randrange(4))],
                    lambda: {"name": rand_value(depth + 1)}, lambda: [[1, 2], [3]]][k]()
        def rand_input():
            i = {"name": rng.choice(["a", "b", "input", "x", "", 5]), "datatype": rng.choice(types),
                 "shape": rng.choice([[1, 16], [16], [2, 16], [1, 15], [-1, 16], [0], [1, 3, 224, 224], [99999999, 99999999], "x", [1.5]])}
            r = rng.random()
            if r < 0.4: i["data"] = rand_value()
            elif r < 0.8: i["parameters"] = {"binary_data_size": rng.choice([0, 4, 64, 63, -3, 1 << 40, "x"])}
            return i
        def case():
            model = rng.choice(["add", "add", "squeezenet1_1", "nope"])
            path = "/v2/models/%s%s/infer" % (model, rng.choice(["", "", "/versions/1", "/versions/7"]))
            kind = rng.randrange(10)
            if kind == 0: return "POST", path, bytes(rng.randrange(256) for _ in range(rng.randrange(200))), {}
            if kind == 1: return "POST", path, json.dumps(rand_value()).encode(), {}
            if kind == 2: return "GET", path, b"", {}
            if kind == 3: return "POST", path, b"", {"Inference-Header-Content-Length": rng.choice(["-5", "abc", "999999", "0", "1"])}
            if kind == 4:   # truncated binary part
                header = json.dumps({"inputs": [{"name": "a", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 64}},
                                               {"name": "b", "shape": [1, 16], "datatype": "FP32", "parameters": {"binary_data_size": 64}}]}).encode()
                return "POST", "/v2/models/add/infer", header + b"\0" * rng.randrange(127), {"Inference-Header-Content-Length": str(len(header))}
            if kind == 5:   # BYTES with a lying length prefix
                header = json.dumps({"inputs": [{"name": "input", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 9}}]}).encode()
                return "POST", "/v2/models/squeezenet1_1/infer", header + struct.pack("<I", 200) + b"\xff\xd8\xff\0\0", {"Inference-Header-Content-Length": str(len(header))}
            if kind == 6:   # a JPEG that is not one
                header = json.dumps({"inputs": [{"name": "input", "shape": [1], "datatype": "BYTES", "parameters": {"binary_data_size": 12}}]}).encode()
                return "POST", "/v2/models/squeezenet1_1/infer", header + struct.pack("<I", 8) + b"\xff\xd8\xff\xe0junk", {"Inference-Header-Content-Length": str(len(header))}
            if kind == 7: return "POST", path, b"x" * (300 * 1024), {}   # too large: 413
            if kind == 8: return rng.choice(["PUT", "DELETE", "GET"]), rng.choice(["/v2/nothing", "/v2/models", "/v2/models/add/explode", "/", "/v2/health/dead"]), b"", {}
            return "POST", path, json.dumps({"inputs": [rand_input() for _ in range(rng.randrange(4))], "outputs": rng.choice([None, [{"name": "zzz"}], "x"])}).encode(), {}
        bad = []
        statuses = {}
        for n in range(count):
            method, path, body, headers = case()
            status, payload = send(method, path, body, headers)
            statuses[status] = statuses.get(status, 0) + 1
            ok = 400 <= status < 500
            try: ok = ok and isinstance(json.loads(payload)["error"], str)
            except Exception: ok = False
            if not ok and len(bad) < 5: bad.append([method, path, status, payload[:200].decode("latin1")])
        live = send("GET", "/v2/health/live")[0]
        good = send("POST", "/v2/models/add/infer", json.dumps({"inputs": [{"name": "a", "shape": [1, 16], "datatype": "FP32", "data": [1] * 16},
                                                                       {"name": "b", "shape": [1, 16], "datatype": "FP32", "data": [2] * 16}]}).encode())
        print(json.dumps({"sent": count, "statuses": statuses, "bad": bad, "live": live, "good": [good[0], json.loads(good[1])["outputs"][0]["data"][:2]]}))
        """#
        let result = try python(script, [String(server.port), "10000"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)\(result.stderr)")
        #expect(report["sent"] as? Int == 10_000)
        #expect((report["bad"] as? [Any])?.isEmpty == true, "non-4xx answers: \(report["bad"] ?? "")")
        #expect(report["live"] as? Int == 200)
        let good = try #require(report["good"] as? [Any])
        #expect(good.first as? Int == 200)
        #expect(good.last as? [Double] == [3, 3])
        let statuses = try #require(report["statuses"] as? [String: Int])
        #expect(statuses["413", default: 0] > 0 && statuses["404", default: 0] > 0 && statuses["400", default: 0] > 1000)
        #expect(server.process.isRunning)
    }

    /// Offered 5× what one 20 ms instance can do: 503s with Retry-After, memory bounded, and normal
    /// service afterwards.
    @Test func overloadIsRefusedAndServiceRecovers() throws {
        let server = try ServerProcess(["--model", "sleep:20ms", "--max-batch", "0", "--max-queue", "8"])
        defer { server.stop() }
        let before = server.residentBytes
        let script = #"""
        import sys, json, time, threading, http.client
        port = int(sys.argv[1])
        body = json.dumps({"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [0.5] * 16}]}).encode()
        results, lock = [], threading.Lock()
        def one():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/v2/models/sleep/infer", body=body)
            r = c.getresponse(); r.read()
            with lock: results.append((r.status, r.getheader("Retry-After")))
            c.close()
        threads = []
        start = time.time()
        for n in range(750):                      # 250 req/s for 3 s: capacity is 50 req/s
            target = start + n / 250.0
            delay = target - time.time()
            if delay > 0: time.sleep(delay)
            t = threading.Thread(target=one); t.start(); threads.append(t)
        for t in threads: t.join()
        ok = sum(1 for s, _ in results if s == 200)
        refused = [h for s, h in results if s == 503]
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("POST", "/v2/models/sleep/infer", body=body); after = c.getresponse().status
        print(json.dumps({"ok": ok, "refused": len(refused), "retry_after": sorted(set(h or "" for h in refused)),
                          "other": len(results) - ok - len(refused), "after": after, "seconds": time.time() - start}))
        """#
        let result = try python(script, [String(server.port)])
        let after = server.residentBytes
        print("overload: RSS before \(Bytes(before)), after \(Bytes(after)); \(result.stdout)")
        #expect(result.status == 0, "\(result.stderr)")
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)\(result.stderr)")
        #expect((report["refused"] as? Int ?? 0) > 300)
        #expect((report["ok"] as? Int ?? 0) > 100)
        #expect(report["other"] as? Int == 0)
        #expect(report["retry_after"] as? [String] == ["1"])
        #expect(report["after"] as? Int == 200)
        #expect(after - before < 64 << 20, "RSS grew from \(Bytes(before)) to \(Bytes(after))")
    }

    /// `--http-threads 1`: requests are read and handled on the server's own event loop (no shared
    /// I/O group), two requests still run at once on two instances, echo their own inputs, and
    /// SIGTERM still drains them.
    @Test func ownHTTPThreadsServeConcurrentlyAndDrain() throws {
        func threadNames(_ server: ServerProcess) throws -> [String] {
            let tasks = "/proc/\(server.process.processIdentifier)/task"
            return try FileManager.default.contentsOfDirectory(atPath: tasks).map {
                (try? String(contentsOfFile: "\(tasks)/\($0)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            }
        }
        let shared = try ServerProcess(["--model", "sleep:10ms", "--max-batch", "0"])
        let sharedThreads = try threadNames(shared)
        shared.stop()
        // The default reads requests on NIO's shared group (named NIO-SGLTN-…): the check below can fail.
        #expect(sharedThreads.contains { $0.hasPrefix("NIO-SGLTN") }, "\(sharedThreads)")

        let server = try ServerProcess(["--model", "sleep:500ms", "--max-batch", "0", "--instances", "2", "--http-threads", "1"])
        let ownThreads = try threadNames(server)
        #expect(!ownThreads.contains { $0.hasPrefix("NIO-SGLTN") } && ownThreads.contains { $0.hasPrefix("NIO-ELT") }, "\(ownThreads)")
        let script = #"""
        import sys, json, http.client, threading, time, os, signal
        port, pid = int(sys.argv[1]), int(sys.argv[2])
        out = {}
        def call(k):
            body = json.dumps({"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [k] * 16}]}).encode()
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/v2/models/sleep/infer", body=body)
            r = c.getresponse()
            reply = json.loads(r.read())
            out[k] = {"status": r.status, "echo": reply["outputs"][0]["data"] == [k] * 16, "queue_ms": reply["parameters"]["queue_time_ns"] / 1e6}
        threads = [threading.Thread(target=call, args=(k,)) for k in (1, 2)]
        for t in threads: t.start()
        time.sleep(0.3)
        os.kill(pid, signal.SIGTERM)
        for t in threads: t.join()
        print(json.dumps(out))
        """#
        let result = try python(script, [String(server.port), String(server.process.processIdentifier)])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [String: Any]], "\(result.stdout)\(result.stderr)")
        for key in ["1", "2"] {
            #expect(report[key]?["status"] as? Int == 200 && report[key]?["echo"] as? Bool == true, "\(result.stdout)")
            // Two instances: neither request waited for the other's 500 ms.
            #expect((report[key]?["queue_ms"] as? Double ?? 1e9) < 400, "\(result.stdout)")
        }
        #expect(server.stop() == 0)
    }

    /// The dynamic batcher on the sleep model (100 ms a batch, one instance, batches of up to 4, 200 ms
    /// queue delay): a lone request waits the delay for company and runs alone; 4 at once run as one
    /// batch; 6 at once as a batch of 4 then one of 2; each gets its own rows back.
    @Test func concurrentRequestsAreBatchedUpToTheLimit() throws {
        let server = try ServerProcess(["--model", "sleep:100ms", "--max-batch", "4", "--max-queue-delay", "200ms", "--instances", "1"])
        defer { server.stop() }
        let script = #"""
        import sys, json, http.client, threading
        port = int(sys.argv[1])
        def burst(n):
            out, barrier = [None] * n, threading.Barrier(n)
            def one(k):
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
                body = json.dumps({"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [k] * 16}]}).encode()
                c.connect()
                barrier.wait()
                c.request("POST", "/v2/models/sleep/infer", body=body)
                reply = json.loads(c.getresponse().read())
                out[k] = [reply["parameters"]["batch_size"], reply["outputs"][0]["data"] == [k] * 16, reply["parameters"]["queue_time_ns"] / 1e6]
            threads = [threading.Thread(target=one, args=(k,)) for k in range(n)]
            for t in threads: t.start()
            for t in threads: t.join()
            return out
        print(json.dumps({"lone": burst(1), "four": burst(4), "six": burst(6)}))
        """#
        let result = try python(script, [String(server.port)])
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: [[Any]]], "\(result.stdout)\(result.stderr)")
        func sizes(_ key: String) -> [Int] { (report[key] ?? []).map { $0[0] as? Int ?? -1 }.sorted() }
        let everyEcho = report.values.joined().allSatisfy { $0[1] as? Bool == true }
        #expect(everyEcho, "\(result.stdout)")
        #expect(sizes("lone") == [1])
        #expect((report["lone"]?.first?[2] as? Double ?? 0) >= 190, "a lone request waits the 200 ms queue delay: \(result.stdout)")
        #expect(sizes("four") == [4, 4, 4, 4], "\(result.stdout)")
        #expect(sizes("six") == [2, 2, 4, 4, 4, 4], "\(result.stdout)")
    }

    /// HTTP/1.1 pipelining through the infer route: infer requests (one chunked, one asking to
    /// close) and requests Hummingbird answers, sent back to back in 97-byte pieces on one
    /// connection, are answered in order, each with its own result, and the connection closes after
    /// the last as asked. Two instances could finish the infers out of order if nothing kept it. An
    /// HTTP/1.0 request without keep-alive is answered and its connection closed.
    @Test func pipelinedRequestsAreAnsweredInOrder() throws {
        let server = try ServerProcess(["--model", "sleep:30ms", "--max-batch", "0", "--instances", "2"])
        defer { server.stop() }
        let script = #"""
        import sys, json, socket, time
        port = int(sys.argv[1])
        def infer(k, chunked=False, close=False):
            body = json.dumps({"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [k] * 16}]}).encode()
            head = "POST /v2/models/sleep/infer HTTP/1.1\r\nHost: x\r\n" + ("Connection: close\r\n" if close else "")
            if chunked:
                parts = [body[:10], body[10:40], body[40:]]
                return (head + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts) + b"0\r\n\r\n"
            return (head + "Content-Length: %d\r\n\r\n" % len(body)).encode() + body
        meta = b"GET /v2/models/sleep HTTP/1.1\r\nHost: x\r\n\r\n"
        stream = infer(1) + meta + infer(2, chunked=True) + infer(3) + meta + infer(4, close=True)
        s = socket.create_connection(("127.0.0.1", port))
        s.settimeout(20)
        for i in range(0, len(stream), 97):
            s.sendall(stream[i:i + 97]); time.sleep(0.002)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk: break
            data += chunk
        answers = []
        while data:
            head, _, rest = data.partition(b"\r\n\r\n")
            fields = dict((k.lower(), v) for k, v in (l.split(": ", 1) for l in head.decode().split("\r\n")[1:]))
            n = int(fields["content-length"])
            body, data = json.loads(rest[:n]), rest[n:]
            answers.append(["meta"] if "versions" in body else [head.split(b" ")[1].decode(), body["outputs"][0]["data"][0]])
        # HTTP/1.0 without keep-alive: answered, then closed (recv returns b"" rather than timing out).
        old = socket.create_connection(("127.0.0.1", port))
        old.settimeout(20)
        old.sendall(infer(5).replace(b"HTTP/1.1", b"HTTP/1.0"))
        reply = b""
        while True:
            chunk = old.recv(65536)
            if not chunk: break
            reply += chunk
        answers.append([reply.split(b" ")[0].decode(), b"connection: close" in reply.lower()])
        print(json.dumps(answers))
        """#
        let result = try python(script, [String(server.port)])
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == #"[["200", 1.0], ["meta"], ["200", 2.0], ["200", 3.0], ["meta"], ["200", 4.0], ["HTTP/1.0", true]]"#, "\(result.stdout)\(result.stderr)")
    }

    /// curl asks `Expect: 100-continue` before sending a body over 1 MiB and would wait a second
    /// for the go-ahead; the infer route gives it at once (then answers the bad shape with a 400).
    @Test func largeUploadsAreToldToContinue() throws {
        let server = try ServerProcess(["--model", "identity"])
        defer { server.stop() }
        let body = temporaryPath("big.json")
        try (#"{"inputs":[{"name":"input","shape":[1,16],"datatype":"FP32","data":["# + String(repeating: "0,", count: 600_000) + "0]}]}").write(toFile: body, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: body) }
        let result = try run("/usr/bin/env", ["curl", "-sv", "-o", "/dev/null", "--data-binary", "@" + body, "http://127.0.0.1:\(server.port)/v2/models/identity/infer"])
        #expect(result.stderr.contains("> Expect: 100-continue") && result.stderr.contains("< HTTP/1.1 100 Continue"), "\(result.stderr.suffix(600))")
        #expect(result.stderr.contains("< HTTP/1.1 400"), "\(result.stderr.suffix(600))")
    }

    @Test func sigtermDrainsRequestsInFlight() throws {
        let server = try ServerProcess(["--model", "sleep:1s", "--max-batch", "0"])
        let script = #"""
        import sys, json, http.client, threading, time, os, signal
        port, pid = int(sys.argv[1]), int(sys.argv[2])
        body = json.dumps({"inputs": [{"name": "input", "shape": [1, 16], "datatype": "FP32", "data": [1] * 16}]}).encode()
        out = {}
        def call():
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/v2/models/sleep/infer", body=body)
            out["status"] = c.getresponse().status
        t = threading.Thread(target=call); t.start()
        time.sleep(0.3)
        os.kill(pid, signal.SIGTERM)
        t.join()
        print(json.dumps(out))
        """#
        let result = try python(script, [String(server.port), String(server.process.processIdentifier)])
        server.process.waitUntilExit()
        #expect(result.stdout.contains("\"status\": 200"), "\(result.stdout)\(result.stderr)")
        #expect(server.process.terminationStatus == 0)
    }
}

@Suite(.timeLimit(.minutes(5))) struct RepositoryTests {
    @Test func configFilesAreReadAndBadOnesNamed() throws {
        let repo = temporaryPath("repo")
        try FileManager.default.createDirectory(atPath: repo + "/tiny", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: repo) }
        try FileManager.default.copyItem(atPath: try ModelZoo.cachedFile(try ModelZoo.model(named: "identity")), toPath: repo + "/tiny/model.onnx")
        try "instances: 2\nmax_batch_size: 4\nmax_queue_delay: 1ms\nengine: {threads: 1, precision: f32}\n".write(toFile: repo + "/tiny/config.yaml", atomically: true, encoding: .utf8)
        let server = try ServerProcess(["--models", repo])
        let metadata = try run("/usr/bin/env", ["curl", "-s", "http://127.0.0.1:\(server.port)/v2/models/tiny"])
        #expect(metadata.stdout.contains("\"shape\":[-1,16]"), "\(metadata.stdout)")
        server.stop()

        try "instances: 2\nbatch: 4\n".write(toFile: repo + "/tiny/config.yaml", atomically: true, encoding: .utf8)
        let failed = try edgeinsight(["serve", "--models", repo, "--port", "0"])
        #expect(failed.status != 0)
        #expect(failed.errorLine.contains("config.yaml: unknown key 'batch'"), "\(failed.stderr)")
    }

    /// A model whose name holds a quote and a backslash is served with every answer valid JSON
    /// that gives its name back exactly (the answers are written by an encoder, not by hand).
    @Test func oddModelNamesStayValidJSON() throws {
        let repo = temporaryPath("repo")
        let name = #"sleep"odd\name"#
        try FileManager.default.createDirectory(atPath: repo + "/" + name, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: repo) }
        let server = try ServerProcess(["--models", repo])
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        let stats = try run("/usr/bin/env", ["curl", "-s", base + "/v2/models/stats"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any], "\(stats.stdout)")
        #expect((parsed["model_stats"] as? [[String: Any]])?.first?["name"] as? String == name, "\(stats.stdout)")
        let encoded = try #require(name.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        for path in ["", "/ready"] {
            let answer = try run("/usr/bin/env", ["curl", "-s", base + "/v2/models/" + encoded + path])
            let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any], "\(path): \(answer.stdout)")
            #expect(object["name"] as? String == name, "\(path): \(answer.stdout)")
        }
    }

    @Test func tokenIsRequiredWhenConfigured() throws {
        let tokenFile = temporaryPath("token")
        try "s3cret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: tokenFile) }
        let server = try ServerProcess(["--model", "identity", "--token-file", tokenFile])
        defer { server.stop() }
        let base = "http://127.0.0.1:\(server.port)"
        #expect(try run("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/v2/models/identity"]).stdout == "401")
        #expect(try run("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer s3cret", base + "/v2/models/identity"]).stdout == "200")
        #expect(try run("/usr/bin/env", ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", base + "/v2/health/ready"]).stdout == "200")
        let infer = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-d", #"{"inputs":[{"name":"input","shape":[1,16],"datatype":"FP32","data":[0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0]}]}"#]
        #expect(try run("/usr/bin/env", infer + [base + "/v2/models/identity/infer"]).stdout == "401")
        #expect(try run("/usr/bin/env", infer + ["-H", "Authorization: Bearer s3cret", base + "/v2/models/identity/infer"]).stdout == "200")
    }
}
