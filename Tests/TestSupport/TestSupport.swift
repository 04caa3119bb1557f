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

/// Runs a Python script with the project's .deps/python (onnx) and .deps/openvino on the path.
public func python(_ script: String, _ arguments: [String] = []) throws -> ProcessOutput {
    try run("/usr/bin/env", ["python3", "-c", script] + arguments,
            environment: ["PYTHONPATH": repositoryRoot + "/.deps/python:" + repositoryRoot + "/.deps/openvino"])
}

/// A fresh path in the temporary folder.
public func temporaryPath(_ name: String) -> String {
    FileManager.default.temporaryDirectory.appendingPathComponent("\(UUID().uuidString)-\(name)").path
}
