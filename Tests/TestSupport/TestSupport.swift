import Foundation

/// The repository root, found from this file's path.
public let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// What a child process printed and how it ended.
public struct ProcessOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// The last line on stderr: where a failing command says why.
    public var errorLine: String { stderr.split(separator: "\n").last.map(String.init) ?? "" }
}

/// Runs a program to completion, capturing stdout and stderr separately.
public func run(_ executable: String, _ arguments: [String], environment extra: [String: String] = [:]) throws -> ProcessOutput {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    process.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
    var environment = ProcessInfo.processInfo.environment
    environment.merge(extra) { $1 }
    process.environment = environment
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read stderr on another thread so neither pipe fills and blocks the child.
    nonisolated(unsafe) var errData = Data()
    let reader = Thread { errData = err.fileHandleForReading.readDataToEndOfFile() }
    reader.start()
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    while !reader.isFinished { usleep(1000) }
    return ProcessOutput(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self), stderr: String(decoding: errData, as: UTF8.self))
}

/// Runs the built `edgeinsight` binary (`swift build` puts it in .build/debug).
public func edgeinsight(_ arguments: [String], environment: [String: String] = [:]) throws -> ProcessOutput {
    try run(repositoryRoot + "/.build/debug/edgeinsight", arguments, environment: environment)
}

/// Runs a Python script with the project's .deps/python (onnx) and .deps/openvino on the path, or
/// the `.deps` folders given (LiteRT's wheel brings its own numpy, so it goes alone).
public func python(_ script: String, _ arguments: [String] = [], packages: [String] = ["python", "openvino"]) throws -> ProcessOutput {
    try run("/usr/bin/env", ["python3", "-c", script] + arguments,
            environment: ["PYTHONPATH": packages.map { repositoryRoot + "/.deps/" + $0 }.joined(separator: ":")])
}

/// A fresh path in this test process's own temporary folder, which goes when the process exits
/// (files named straight in /tmp stayed there: thousands after a few hundred test runs).
public func temporaryPath(_ name: String) -> String {
    testFolder + "/\(UUID().uuidString)-\(name)"
}

private func testFolderPath() -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("edgeinsight-tests-\(getpid())").path
}

private let testFolder: String = {
    let folder = testFolderPath()
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    atexit { try? FileManager.default.removeItem(atPath: testFolderPath()) }
    return folder
}()

/// An `edgeinsight serve` child process on a free loopback port, stopped with SIGTERM.
public final class ServerProcess: @unchecked Sendable {
    public let process = Process()
    public private(set) var port = 0
    private let output = Pipe()

    /// Starts the server with `arguments` (after `serve`) and waits until it prints its address.
    public convenience init(_ arguments: [String], timeout: Double = 60) throws {
        try self.init(command: ["serve", "--port", "0"] + arguments, portAfter: "http://127.0.0.1:", timeout: timeout)
    }

    /// Starts `edgeinsight` with `command` and waits until it prints `marker` followed by a port.
    public init(command: [String], portAfter marker: String, timeout: Double = 60) throws {
        process.executableURL = URL(fileURLWithPath: repositoryRoot + "/.build/debug/edgeinsight")
        process.arguments = command
        process.currentDirectoryURL = URL(fileURLWithPath: repositoryRoot)
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        var seen = ""
        while Date() < deadline {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += String(decoding: chunk, as: UTF8.self)
            if let range = seen.range(of: marker) {
                let digits = seen[range.upperBound...].prefix { $0.isNumber }
                if let value = Int(digits), seen[range.upperBound...].contains("\n") {
                    port = value
                    return
                }
            }
        }
        process.terminate()
        throw ServerStartError(output: seen)
    }

    /// Resident memory of the server, in bytes (from /proc).
    public var residentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0) * 1024
    }

    /// Sends SIGTERM and waits; returns the exit status.
    @discardableResult
    public func stop() -> Int32 {
        if process.isRunning {
            process.terminate()
            // Polled, not waitUntilExit: its run loop missed the exit of a child that quits within
            // microseconds of SIGTERM (seen with `link`), and hung.
            let deadline = Date().addingTimeInterval(30)
            while process.isRunning, Date() < deadline { usleep(2000) }
        }
        return process.isRunning ? -1 : process.terminationStatus
    }

    deinit { stop() }
}

/// The server did not come up; carries what it printed.
public struct ServerStartError: Error, CustomStringConvertible {
    public var output: String
    public var description: String { "server did not start: \(output)" }
}

/// What some tests need beyond the build, for `.enabled(if:)` traits that say why a test skips.
/// `make test` runs scripts/setup, which installs all of it; `swift test` alone may lack it.
public enum Requirements {
    static func installed(_ path: String) -> Bool { FileManager.default.fileExists(atPath: repositoryRoot + "/" + path) }
    /// Python 3 (its standard library reads back our SVGs).
    public static let python3 = FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")
    /// Our shim over Debian's OpenCV DNN (.deps/opencv-dnn, built by scripts/setup).
    public static let openCV = installed(".deps/opencv-dnn/libedgeinsight_opencv.so")
    /// LiteRT's wheel (.deps/litert): the library our engine opens and the reference interpreter.
    public static let liteRT = python3 && installed(".deps/litert/ai_edge_litert/libLiteRt.so")
    /// Debian's chromium, the report's browser.
    public static let chromium = FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
    /// The onnx reference checker (.deps/python).
    public static let onnx = python3 && installed(".deps/python/onnx")
    /// The `tflite` package, an independent reader of TFLite files (.deps/python).
    public static let tflitePackage = python3 && installed(".deps/python/tflite")
    /// Triton's Python client (.deps/python).
    public static let tritonClient = python3 && installed(".deps/python/tritonclient")
    /// OpenVINO's Python API (.deps/openvino).
    public static let openVINOPython = python3 && installed(".deps/openvino/openvino")
    /// Root, for cgroups and network namespaces.
    public static let root = getuid() == 0

    public static let setupHint = "run scripts/setup"
}

/// Seldon MLServer (.deps/mlserver, installed by scripts/setup) serving the models of a folder —
/// each a `NAME/model-settings.json` with its runtime's Python file beside — on free ports,
/// stopped with SIGTERM, then SIGKILL after 5 s.
public final class MLServerProcess: @unchecked Sendable {
    public let port: Int
    public let folder: String
    private let process = Process()

    /// `models`: model name → (its model-settings.json, the runtime module's file name and source).
    public init(models: [String: (settings: String, runtimeFile: String, runtime: String)]) throws {
        port = 18_280 + Int.random(in: 0..<500) * 3
        folder = temporaryPath("mlserver")
        for (name, model) in models {
            try FileManager.default.createDirectory(atPath: folder + "/" + name, withIntermediateDirectories: true)
            try model.settings.write(toFile: folder + "/\(name)/model-settings.json", atomically: true, encoding: .utf8)
            try model.runtime.write(toFile: folder + "/" + model.runtimeFile, atomically: true, encoding: .utf8)
        }
        try #"{"host": "127.0.0.1", "http_port": \#(port), "grpc_port": \#(port + 1), "metrics_port": \#(port + 2), "parallel_workers": 0}"#
            .write(toFile: folder + "/settings.json", atomically: true, encoding: .utf8)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", repositoryRoot + "/.deps/mlserver/bin/mlserver", "start", "."]
        process.currentDirectoryURL = URL(fileURLWithPath: folder)
        var environment = ProcessInfo.processInfo.environment
        environment["PYTHONPATH"] = repositoryRoot + "/.deps/mlserver:" + folder
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        for _ in 0..<300 {
            if (try? run("/usr/bin/env", ["curl", "-sf", "http://127.0.0.1:\(port)/v2/health/ready"]).status) == 0 { return }
            usleep(200_000)
        }
        stop()
        throw ServerStartError(output: "MLServer did not become ready on port \(port) within 60 s")
    }

    public var url: String { "http://127.0.0.1:\(port)" }

    public func stop() {
        guard process.isRunning else { return }
        // MLServer may take its time over SIGTERM.
        process.terminate()
        for _ in 0..<50 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    deinit { stop() }

    /// The add micro-model of benchmarks/mlserver-add (sum = a + b), MLServer's way.
    public static var addModel: (settings: String, runtimeFile: String, runtime: String) {
        let folder = repositoryRoot + "/benchmarks/mlserver-add"
        return ((try? String(contentsOfFile: folder + "/add/model-settings.json", encoding: .utf8)) ?? "",
                "add_runtime.py", (try? String(contentsOfFile: folder + "/add_runtime.py", encoding: .utf8)) ?? "")
    }
}
