// Files a job will execute must not be open for writing in any process when the job execs them, or exec fails
// with "Text file busy" (ETXTBSY). A child made by clone/fork copies every descriptor the platform holds at that
// moment and keeps them until its own exec (a warm launcher: until its job comes), so a job file being written by
// one thread while another thread spawns a sandbox could stay open in that child. Go solves this with its
// ForkLock; so does this: writing a job's files takes the lock shared, spawning takes it exclusively.
import CSandboxSpawn
import Glibc

enum ForkLock {
    nonisolated(unsafe) private static let lock: UnsafeMutablePointer<pthread_rwlock_t> = {
        let lock = UnsafeMutablePointer<pthread_rwlock_t>.allocate(capacity: 1)
        // Spawns must not wait behind a steady stream of file writes (many jobs being placed at once): a waiting
        // spawn goes before new writers. Nothing takes the lock shared twice in one thread.
        if cc_rwlock_init_writer_first(lock) != 0 { pthread_rwlock_init(lock, nil) }
        return lock
    }()

    /// Around writing a file (many at once).
    static func writing<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_rdlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Around clone/fork (one at a time, never while a file is being written).
    static func spawning<T>(_ body: () throws -> T) rethrows -> T {
        pthread_rwlock_wrlock(lock)
        defer { pthread_rwlock_unlock(lock) }
        return try body()
    }

    /// Copies regular file `source` (never through a link) to `target` (created or truncated, then `mode`), a
    /// megabyte at a time — holding the lock shared when `locked` (a file a job may execute: for a large file, spawns
    /// wait) —; false on failure, or when `source` is not a regular file.
    static func copyFile(_ source: String, _ target: String, mode: mode_t, locked: Bool) -> Bool {
        let input = open(source, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
        guard input >= 0 else { return false }
        defer { close(input) }
        var info = stat()
        guard fstat(input, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return false }
        func copy() -> Bool {
            let output = open(target, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, mode)
            guard output >= 0 else { return false }
            defer { close(output) }
            var buffer = [UInt8](repeating: 0, count: 1 << 20)
            while true {
                let got = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress!, $0.count) }
                if got < 0 && errno == EINTR { continue }
                guard got >= 0 else { return false }
                if got == 0 { break }
                guard writeAll(output, buffer[..<got]) else { return false }
            }
            return fchmod(output, mode) == 0
        }
        return locked ? writing(copy) : copy()
    }

    /// Writes a whole file (created or truncated, then `mode`), holding the lock shared; false on failure.
    static func writeFile(_ path: String, _ data: [UInt8], mode: mode_t) -> Bool {
        writing {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode)
            guard fd >= 0 else { return false }
            defer { close(fd) }
            return writeAll(fd, data[...]) && fchmod(fd, mode) == 0
        }
    }

    /// Writes all of `bytes` to `fd` (short writes and interruptions retried); false on failure.
    private static func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>) -> Bool {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            written += n
        }
        return true
    }
}

extension Sandbox {
    /// Starts a process by other means than the sandbox (Foundation's `Process`: posix_spawn) under the fork lock,
    /// as the sandbox's own spawns are: a child started while a job file is being written holds a copy of its
    /// descriptor until its exec, and that job would meet "Text file busy". `start` must return once the child has
    /// exec'd (Process.run does).
    public static func startingProcess<T>(_ start: () throws -> T) rethrows -> T { try ForkLock.spawning(start) }
}
