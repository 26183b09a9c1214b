// Reads what a job left in its output folder without trusting it: every step is openat() with O_NOFOLLOW from
// the job folder's descriptor, so a symlink (to /etc/shadow, to the database, to another job) is reported and
// skipped, never followed, and nothing outside the job folder is read.
import Foundation
import Glibc

struct OutputReader {
    var maxFiles = 256
    var maxFileBytes = 8 << 20
    var maxTotalBytes = 32 << 20
    var maxDepth = 8

    func read(jobFolder: String, outputDirectory: String) -> (files: [SandboxOutputFile], skipped: [String]) {
        var files: [SandboxOutputFile] = []
        var skipped: [String] = []
        var total = 0
        let root = open(jobFolder, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { return ([], ["\(outputDirectory): the job folder cannot be opened"]) }
        var fd = root
        for component in outputDirectory.split(separator: "/") {
            let next = openat(fd, String(component), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            close(fd)
            guard next >= 0 else { return ([], ["\(outputDirectory): missing, or not a plain folder"]) }
            fd = next
        }
        walk(fd, prefix: "", depth: 0, files: &files, skipped: &skipped, total: &total)
        close(fd)
        return (files.sorted { $0.path < $1.path }, skipped)
    }

    private func walk(_ dirFD: Int32, prefix: String, depth: Int, files: inout [SandboxOutputFile], skipped: inout [String], total: inout Int) {
        let listFD = dup(dirFD)
        guard listFD >= 0, let dir = fdopendir(listFD) else { return }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { String(cString: UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)) }
            if name != "." && name != ".." { names.append(name) }
        }
        for name in names.sorted() {
            let relative = prefix + name
            var info = stat()
            guard fstatat(dirFD, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                guard depth < maxDepth else { skipped.append("\(relative): nested too deep"); continue }
                let child = openat(dirFD, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
                guard child >= 0 else { skipped.append("\(relative): cannot be opened"); continue }
                walk(child, prefix: relative + "/", depth: depth + 1, files: &files, skipped: &skipped, total: &total)
                close(child)
            case S_IFREG:
                guard files.count < maxFiles else { skipped.append("\(relative): more than \(maxFiles) files"); continue }
                let size = Int(info.st_size)
                guard size <= maxFileBytes else { skipped.append("\(relative): larger than \(maxFileBytes) bytes"); continue }
                guard total + size <= maxTotalBytes else { skipped.append("\(relative): output total over \(maxTotalBytes) bytes"); continue }
                let fd = openat(dirFD, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
                guard fd >= 0 else { skipped.append("\(relative): cannot be opened"); continue }
                defer { close(fd) }
                var opened = stat()
                guard fstat(fd, &opened) == 0, (opened.st_mode & S_IFMT) == S_IFREG else { skipped.append("\(relative): not a regular file"); continue }
                var data = Data(count: size)
                let got = data.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, size) }
                guard got >= 0 else { skipped.append("\(relative): cannot be read"); continue }
                data.count = got
                total += got
                files.append(SandboxOutputFile(path: relative, size: got, contents: data))
            case S_IFLNK:
                skipped.append("\(relative): a symlink, not followed")
            default:
                skipped.append("\(relative): not a regular file")
            }
        }
    }
}
