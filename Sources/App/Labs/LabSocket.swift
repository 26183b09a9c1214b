// Reaching a session's program on its Unix socket without being talked round: the socket lives in the session's
// folder, where the student's own processes may replace it with a link to any socket on the host (which the
// platform, as root, could then open). So the name is opened without following links (O_PATH | O_NOFOLLOW, beneath
// the session's folder, itself a mount the student cannot replace), must be a socket, and is connected to through
// that descriptor (/proc/self/fd/N), so nothing can be swapped in between.
import Foundation
import Glibc

struct LabSocket: ~Copyable {
    /// Linux's O_PATH (Glibc's module leaves out this GNU flag): a descriptor that names a file without opening it.
    static let pathOnly: Int32 = 0o10000000

    /// The path to connect to while this value lives.
    let path: String
    private let folder: Int32
    private let socket: Int32

    /// nil while the program has not made its socket yet; throws when something else sits at its name.
    init?(folder folderPath: String, name: String) throws {
        let folder = open(folderPath, Self.pathOnly | O_DIRECTORY | O_CLOEXEC)
        guard folder >= 0 else { return nil }
        let socket = openat(folder, name, Self.pathOnly | O_NOFOLLOW | O_CLOEXEC)
        guard socket >= 0 else { close(folder); return nil }
        var info = stat()
        guard fstat(socket, &info) == 0, (info.st_mode & S_IFMT) == S_IFSOCK else {
            close(socket)
            close(folder)
            throw LabSocketRefused()
        }
        (self.folder, self.socket, path) = (folder, socket, "/proc/self/fd/\(socket)")
    }

    deinit {
        close(socket)
        close(folder)
    }
}

/// What sits at a session's socket name is not a socket the session made (a link, a file): nothing is connected.
struct LabSocketRefused: Error, CustomStringConvertible {
    var description: String { "the lab's socket was replaced by something that is not a socket; the platform does not connect to it" }
}
