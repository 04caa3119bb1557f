import ArgumentParser
import EdgeInsightCore
import Engine
import Foundation
import Link
import LoadGen
import ModelZoo
import Profiles
import Server
import Testbed

/// `edgeinsight`: characterise, model and plan ML inference across edge devices, links and cloud servers.
@main
struct EdgeInsight: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edgeinsight",
        abstract: "Measure and model ML inference on edge devices, networks and cloud servers.",
        discussion: """
            Start with `edgeinsight models list` to see the built-in models, then
            `edgeinsight bench mobilenet_v2` to measure one on this machine with OpenVINO.
            """,
        version: HostFacts.buildVersion,
        subcommands: [Models.self, Bench.self, PipelineRun.self, Preprocess.self, Camera.self, Serve.self, Load.self, LinkCommand.self, AgentCommand.self, BrokerCommand.self, Run.self, HostsCommand.self, ResultsCommand.self, Calibrate.self, DevicesCommand.self, ModelCommand.self, Predict.self, PlanCommand.self, ReportCommand.self, Demo.self])

    /// Runs the command; every failure becomes one line on stderr and a non-zero exit code.
    static func main() async {
        var node = false
        do {
            var command = try parseAsRoot()
            node = command is NodeCommand
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            // Already reported (an interrupted run says so itself).
            exitAfterError(code.rawValue)
        } catch {
            let code = exitCode(for: error)
            // Help and version requests are ArgumentParser's to print.
            if code == .success { exit(withError: error) }
            let text = isArgumentParserError(error) ? message(for: error) : "\(error)"
            let line = (text.split(separator: "\n").first.map(String.init) ?? "failed") + (flagHint(for: error).map { " (\($0))" } ?? "")
            FileHandle.standardError.write(Data("error: \(line)\n".utf8))
            // A node's last stdout line is its report or its error (docs/nodes.md).
            if node { NodeLine<NodeStopped>.error(line).write() }
            exitAfterError(code == .failure || code.rawValue == 0 ? 1 : code.rawValue)
        }
    }

    /// Ends the process without the libraries' teardown: a command that failed after loading a
    /// model (`serve` on a port in use) may still have the runtime's worker threads about, and a
    /// teardown that unloads their code under them turned a one-line error into a crash report
    /// (seen once under `make test`). Buffered output is flushed first.
    private static func exitAfterError(_ code: Int32) -> Never {
        fflush(nil)
        _exit(code)
    }

    private static func isArgumentParserError(_ error: Error) -> Bool {
        error is ValidationError || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }
}

/// Prints a progress line on stderr, overwritten in place when stderr is a terminal.
enum Progress {
    static let interactive = isatty(STDERR_FILENO) == 1

    static func show(_ text: String) {
        FileHandle.standardError.write(Data((interactive ? "\r\u{1B}[K" + text : text + "\n").utf8))
    }

    static func finish() {
        if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
    }
}

/// A command that is a node of the testbed (docs/nodes.md): its stdout holds one ready line and
/// one final line, its report or its error.
protocol NodeCommand {}
extension Serve: NodeCommand {}
extension LinkRun: NodeCommand {}
extension AgentCommand: NodeCommand {}

/// SIGINT and SIGTERM as an awaitable event, for commands that run until stopped.
///
/// Create it before printing a ready line: a parent that stops the process right after reading that
/// line must not find the signal still at its default, or ignored and lost.
final class StopSignal: @unchecked Sendable {  // sources are set once, in init
    private let stream = AsyncStream<Void>.makeStream()
    private let sources: [DispatchSourceSignal]

    init() {
        let continuation = stream.continuation
        sources = [SIGINT, SIGTERM].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { continuation.finish() }
            source.resume()
            return source
        }
    }

    /// Also stops after `duration`.
    func after(_ duration: Duration) {
        let continuation = stream.continuation
        Task {
            try? await Task.sleep(for: duration)
            continuation.finish()
        }
    }

    /// Returns once a signal came (or the time passed).
    func wait() async {
        for await _ in stream.stream {}
        sources.forEach { $0.cancel() }
    }
}

/// JSON with sorted keys and indentation: what every `--json` flag prints.
func prettyJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    return String(decoding: try encoder.encode(value), as: UTF8.self)
}

/// Writes an output file; a path that cannot be written is a one-line error naming it.
func writeOutput(_ text: String, to path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
        throw ValidationError("cannot write \(path): \(String(cString: strerror(errno)))")
    }
}

/// Fails before long work starts when an output's folder is missing or not writable, so a typo in a
/// path does not cost a measured sweep.
func checkWritable(_ paths: String?...) throws {
    for case let path? in paths {
        let parent = (path as NSString).deletingLastPathComponent
        let folder = parent.isEmpty ? "." : parent
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue, FileManager.default.isWritableFile(atPath: folder) else {
            throw ValidationError("cannot write \(path): \(folder) is not a writable folder")
        }
    }
}

/// Parses `--input-type`: the element type inputs are given in (f32 or u8).
func parseInputType(_ text: String) throws -> ElementType {
    guard let type = ElementType(rawValue: text.lowercased()), type == .f32 || type == .u8 else {
        throw ValidationError("--input-type must be f32 or u8, got '\(text)'")
    }
    return type
}

/// Reads a bearer token from `--token-file`.
func readToken(_ path: String) throws -> String {
    guard let token = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
        throw ValidationError("cannot read a token from \(path)")
    }
    return token
}

/// The flag that fixes a library error: libraries name no flags, so the CLI adds them.
func flagHint(for error: Error) -> String? {
    switch error {
    case EngineError.dynamicShape(let input, _): "give it with --shape \(input):1,3,224,224 (your dimensions)"
    case EngineError.badShape: "see --shape"
    case ZooError.dynamicShape(let input, _): "give it with --shape \(input):1,3,224,224 (your dimensions)"
    case LoadError.dynamicInput(let name, _): "give --shape \(name):…"
    case LoadError.bytesInput: "send JPEGs with --images DIR"
    case ServerError.portInUse: "try another --port, or 0 for a free one"
    case ServerError.noModels: "give --models DIR or --model NAME"
    case ProfileError.noFile(kind: "link", _): "pass --profiles FILE"
    default: nil
    }
}

/// Prints one line on standard error.
func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Parses `--arrivals` (or an older flag's) `constant` or `poisson`; the old spelling `fixed` still
/// works, with a deprecation line.
func parseArrivals(_ text: String, flag: String = "--arrivals") throws -> ArrivalProcess.Kind {
    guard let (kind, deprecated) = ArrivalProcess.Kind.parse(text) else { throw ValidationError("\(flag) must be constant or poisson, got '\(text)'") }
    if deprecated { printError("note: \(flag) \(text) is deprecated; it is spelled --arrivals constant") }
    return kind
}

/// Warns when a value given to `--arrivals` is an old spelling.
func warnIfDeprecated(arrivals text: String, flag: String) {
    _ = try? parseArrivals(text, flag: flag)
}

/// Parses `WIDTHxHEIGHT` for a flag.
func parseSize(_ text: String, flag: String = "--resolution") throws -> PixelSize {
    guard let size = PixelSize(parsing: text), size.pixels > 0 else { throw ValidationError("\(flag) must be WIDTHxHEIGHT, e.g. 640x480, got '\(text)'") }
    return size
}
