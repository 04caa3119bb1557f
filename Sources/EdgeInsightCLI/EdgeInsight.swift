import ArgumentParser
import Foundation

/// `edgeinsight`: characterise, model and plan ML inference across edge devices, links and cloud servers.
@main
struct EdgeInsight: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "edgeinsight",
        abstract: "Measure and model ML inference on edge devices, networks and cloud servers.",
        discussion: """
            Start with `edgeinsight models list` to see the built-in models, then
            `edgeinsight bench mobilenet_v2` to measure one on this machine with OpenVINO.
            """,
        subcommands: [Models.self, Bench.self])

    /// Runs the command; every failure becomes one line on stderr and a non-zero exit code.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch let error as CleanExit {
            exit(withError: error)
        } catch let error where isArgumentParserError(error) {
            exit(withError: error)
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            Foundation.exit(1)
        }
    }

    /// Parse errors and help requests are ArgumentParser's to print.
    private static func isArgumentParserError(_ error: Error) -> Bool {
        error is ValidationError || error is ExitCode || String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
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
