// Which files of a hand-in a similarity check reads, wherever the hand-in comes from (a folder on disk, the files
// a student submitted): source in a compared language that the student could have written — not minified, not in
// a folder of other people's code (installed packages, build output), not hidden, not larger than a person writes.

public enum HandInFiles {
    /// Files larger than this are not source a student wrote (data, generated code): not read.
    public static let largestFile = 1 << 20
    /// Folders of other people's code a hand-in may carry: not read.
    public static let skippedFolders: Set<String> = ["node_modules", "venv", ".venv", "__pycache__", "__MACOSX", "dist", "build", "target", "vendor"]

    /// Whether the file at `path` ("/"-separated, relative to the hand-in) of `size` bytes is compared.
    public static func compares(path: String, size: Int) -> Bool {
        let parts = path.split(separator: "/")
        guard let name = parts.last, size <= largestFile, !name.hasPrefix("."), !name.hasSuffix(".min.js"),
              SourceLanguage.of(fileName: String(name)) != nil else { return false }
        return !parts.dropLast().contains { $0.hasPrefix(".") || skippedFolders.contains(String($0)) }
    }
}
