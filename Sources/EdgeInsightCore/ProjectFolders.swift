import Foundation

/// Folders where a checkout's data (`profiles/`, `.deps/`) may live, so the tool finds them whether
/// it runs from the checkout or from its build folder.
public enum ProjectFolders {
    /// The working directory, then every ancestor of the running executable (symlinks resolved).
    public static func roots() -> [String] {
        var roots = [FileManager.default.currentDirectoryPath]
        var url = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        if let executable = Bundle.main.executablePath { url = URL(fileURLWithPath: executable).resolvingSymlinksInPath() }
        while url.path != "/" && !url.path.isEmpty {
            url.deleteLastPathComponent()
            if !roots.contains(url.path) { roots.append(url.path) }
        }
        return roots
    }
}
