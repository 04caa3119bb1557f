import EdgeInsightCore
import Foundation
import Yams

/// Errors of profiles files; one line each, naming the file and line of the bad value.
public enum ProfileError: Error, CustomStringConvertible, Equatable {
    /// A value or entry that cannot be used: "profiles/links.yaml:12: 'loss' must be …".
    case invalid(String)
    case unknown(kind: String, name: String, known: [String])
    case noFile(kind: String, looked: String)

    public var description: String {
        switch self {
        case .invalid(let message): message
        case .unknown(let kind, let name, let known): "unknown \(kind) profile '\(name)' (known: \(known.joined(separator: ", ")))"
        case .noFile(let kind, let looked): "no \(kind) profiles file found (looked for \(looked))"
        }
    }
}

/// A profiles file read with the line of every value, so each bad one is reported where it is.
/// The files are mappings of profile names to mappings of settings (scalars).
struct ProfileFile {
    /// One setting of a profile, as the file spells it.
    struct Field {
        var key: String
        var value: String
        var line: Int
        /// A list of mappings (`published:`), each setting with its line; nil for a single value.
        var items: [[String: (value: String, line: Int)]]? = nil
    }

    struct Entry {
        var name: String
        var line: Int
        var fields: [Field]
        /// Where `key` is (or the entry, if it lacks it), as `file:line`.
        func at(_ key: String, in path: String) -> String { "\(path):\(fields.first { $0.key == key }?.line ?? line)" }
    }

    var path: String
    var entries: [Entry]

    /// Reads `path`; `kind` names the profiles in errors ("link", "device", "cloud").
    static func read(_ path: String, kind: String) throws(ProfileError) -> ProfileFile {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch { throw .invalid("cannot read \(kind) profiles file \(path)") }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw .invalid("\(path): not valid YAML (\("\(error)".split(separator: "\n").first ?? ""))")
        }
        guard let mapping = root?.mapping else { throw .invalid("\(path):1: expected a mapping of \(kind) profile names") }
        var entries: [Entry] = []
        for (key, value) in mapping {
            let line = key.mark?.line ?? 0
            guard let name = key.string else { throw .invalid("\(path):\(line): a profile name must be text") }
            guard let settings = value.mapping else { throw .invalid("\(path):\(line): profile '\(name)' must be a mapping of settings") }
            var fields: [Field] = []
            for (settingKey, settingValue) in settings {
                let fieldLine = settingKey.mark?.line ?? line
                guard let key = settingKey.string else { throw .invalid("\(path):\(fieldLine): profile '\(name)': a setting's key must be text") }
                if let list = settingValue.sequence {
                    var items: [[String: (value: String, line: Int)]] = []
                    for item in list {
                        guard let mapping = item.mapping else { throw .invalid("\(path):\(item.mark?.line ?? fieldLine): profile '\(name)': each of '\(key)' must be a mapping") }
                        var entry: [String: (value: String, line: Int)] = [:]
                        for (k, v) in mapping {
                            guard let name = k.string, let scalar = v.scalar else {
                                throw .invalid("\(path):\(k.mark?.line ?? fieldLine): profile '\(name)': each setting of '\(key)' must be a key and a single value")
                            }
                            entry[name] = (scalar.string, v.mark?.line ?? fieldLine)
                        }
                        items.append(entry)
                    }
                    fields.append(Field(key: key, value: "", line: fieldLine, items: items))
                    continue
                }
                guard let scalar = settingValue.scalar else {
                    throw .invalid("\(path):\(fieldLine): profile '\(name)': each setting must be a key and a single value")
                }
                fields.append(Field(key: key, value: scalar.string, line: settingValue.mark?.line ?? fieldLine))
            }
            entries.append(Entry(name: name, line: line, fields: fields))
        }
        return ProfileFile(path: path, entries: entries)
    }

    /// The file named by `variable`, else `profiles/FILE` in the working directory or beside the
    /// executable (searching upwards, as a checkout is laid out).
    static func locate(_ file: String, variable: String, kind: String) throws(ProfileError) -> String {
        if let path = ProcessInfo.processInfo.environment[variable], !path.isEmpty { return path }
        let candidates = ProjectFolders.roots().map { $0 + "/profiles/" + file }
        guard let path = candidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw .noFile(kind: kind, looked: candidates.first ?? "profiles/\(file)")
        }
        return path
    }
}

/// Number parsing for profile values, with the range a user can read in the error.
enum ProfileValue {
    static func number(_ field: ProfileFile.Field, in path: String, profile: String, _ range: ClosedRange<Double>, _ expect: String) throws(ProfileError) -> Double {
        guard let value = Double(field.value), value.isFinite, range.contains(value) else {
            throw .invalid("\(path):\(field.line): profile '\(profile)': '\(field.key)' must be \(expect) (got '\(field.value)')")
        }
        return value
    }
}
