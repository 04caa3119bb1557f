import EdgeInsightCore
import Foundation

/// A framework's shared library opened at run time (our OpenCV shim, LiteRT's libLiteRt.so), so a
/// machine without it still runs everything else: found through an environment variable naming the
/// file, else under each project folder; its C functions resolved by name.
struct RuntimeLibrary {
    let engine: String
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens the library; `variable` names an explicit file (final: falling back would hide a typo),
    /// `relativePath` where scripts/setup puts it, `install` what to do when it is missing.
    init(engine: String, variable: String, relativePath: String, install: String) throws(EngineError) {
        self.engine = engine
        if let file = ProcessInfo.processInfo.environment[variable], !file.isEmpty {
            guard FileManager.default.fileExists(atPath: file) else { throw .libraryNotFound(engine: engine, searched: ["\(variable)=\(file)"], install: install) }
            path = file
        } else {
            let candidates = ProjectFolders.roots().map { $0 + "/" + relativePath }
            guard let found = candidates.first(where: FileManager.default.fileExists) else {
                throw .libraryNotFound(engine: engine, searched: candidates, install: install)
            }
            path = found
        }
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            throw .libraryUnusable(engine: engine, path: path, reason: dlerror().map { String(cString: $0) } ?? "dlopen failed")
        }
        self.handle = handle
    }

    /// The function `name`, as the C function type `T`.
    func symbol<T>(_ name: String) throws(EngineError) -> T {
        guard let pointer = dlsym(handle, name) else { throw .libraryUnusable(engine: engine, path: path, reason: "no symbol \(name)") }
        return unsafeBitCast(pointer, to: T.self)
    }
}
