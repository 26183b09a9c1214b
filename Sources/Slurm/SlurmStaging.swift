// A job's folder on the cluster's shared filesystem: its inputs written in before it is queued, its outputs and logs
// read back after it ends, the folder removed then. The platform may run as root and the folder belongs to the job,
// so everything is read without following a link and only files the service account itself owns are taken: a job
// that leaves a link (or a hard link) to a host file in outputs/ gets nothing of it.
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What one job is asked to be: the `sbatch` request the platform makes.
public struct SlurmSubmission: Equatable, Sendable {
    /// The scheduler's name for the job (the platform finds it by this name after a crash, too).
    public var name: String
    public var folder: URL
    public var partition: String
    public var account: String?
    public var resources: SlurmResources
    public var timeLimitMinutes: Int
    /// Seconds from now by which the job must be able to end, or the scheduler drops it (`--deadline`).
    public var deadlineSeconds: Int?

    public init(name: String, folder: URL, partition: String, account: String?, resources: SlurmResources, timeLimitMinutes: Int,
                deadlineSeconds: Int? = nil) {
        (self.name, self.folder, self.partition, self.account) = (name, folder, partition, account)
        (self.resources, self.timeLimitMinutes, self.deadlineSeconds) = (resources, timeLimitMinutes, deadlineSeconds)
    }

    /// The `sbatch` command line: one task on one node with the cores, memory and GPUs asked for, never requeued (a
    /// requeued job would run, and be charged, twice). The job gets sbatch's environment, which `SlurmCommand` keeps
    /// clean (`--export=NONE` would make slurmd load the account's login environment instead).
    public var sbatchArguments: [String] {
        var arguments = ["sbatch", "--parsable", "--no-requeue", "--job-name", name, "--chdir", SlurmStaging.work(folder).path,
                         "--output", SlurmStaging.stdout(folder).path, "--error", SlurmStaging.stderr(folder).path,
                         "--partition", partition, "--nodes", "1", "--ntasks", "1", "--cpus-per-task", String(resources.cpus),
                         "--mem", "\(resources.memoryMB)M", "--time", String(timeLimitMinutes)]
        if let account, !account.isEmpty { arguments += ["--account", account] }
        if resources.gpus > 0 { arguments += ["--gres", "gpu:\(resources.gpus)"] }
        if let deadlineSeconds { arguments += ["--deadline", "now+\(deadlineSeconds)"] }
        return arguments + [SlurmStaging.script(folder).path]
    }
}

public struct SlurmStagingError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum SlurmStaging {
    public static func work(_ folder: URL) -> URL { folder.appendingPathComponent("work") }
    public static func script(_ folder: URL) -> URL { folder.appendingPathComponent("job.sh") }
    public static func stdout(_ folder: URL) -> URL { folder.appendingPathComponent("stdout.log") }
    public static func stderr(_ folder: URL) -> URL { folder.appendingPathComponent("stderr.log") }
    public static let outputFolder = "outputs"

    /// The batch script: a known PATH and HOME, the job's folder, then the command by /bin/sh — in the platform's
    /// sandbox when `sandbox` asks for it and the node has one (SlurmSandbox). The command is in the script itself,
    /// which sbatch hands to the scheduler: nothing written to the folder later can change it.
    public static func scriptText(folder: URL, command: String, sandbox: SlurmSandbox? = nil) -> String {
        let work = work(folder).path
        let run = (sandbox ?? SlurmSandbox(mode: .off, filter: [], architecture: "", hidden: []))
            .lines(command: shellQuoted(command), staging: folder.deletingLastPathComponent().path, work: work)
        return """
        #!/bin/sh
        # A CampusCloud research job: inputs and outputs/ are in work/.
        PATH=\(SlurmCommand.basePath)
        HOME=\(shellQuoted(work))
        export PATH HOME
        cd \(shellQuoted(work)) || exit 111

        """ + run.joined(separator: "\n") + "\n"
    }

    static func shellQuoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// Makes `folder` (which must not exist) with the job's script and input files, and an empty outputs/; all of it
    /// then belongs to `owner` when given (the platform runs as root), private to it. The folder is the platform's
    /// (0700) while it is filled, and is handed over last — after everything in it, each without following a link —
    /// so no process of the owner's can swap a path under the platform while it works. Returns the script's text (what
    /// a submission through slurmrestd carries).
    @discardableResult
    public static func prepare(_ folder: URL, command: String, files: [String: Data], owner: SlurmServiceAccount?, sandbox: SlurmSandbox? = nil) throws -> String {
        let manager = FileManager.default
        var created: [URL] = [folder, work(folder), work(folder).appendingPathComponent(outputFolder)]
        guard mkdir(folder.path, 0o700) == 0 else {
            throw SlurmStagingError("the job's folder could not be made: \(String(cString: strerror(errno)))")
        }
        do {
            try manager.createDirectory(at: work(folder).appendingPathComponent(outputFolder), withIntermediateDirectories: true)
            for (path, data) in files {
                let parts = path.split(separator: "/")
                guard !path.hasPrefix("/"), !parts.isEmpty, !parts.contains(where: { $0 == ".." || $0 == "." }) else {
                    throw SlurmStagingError("an input's path is not a relative path inside the job's folder: \(path)")
                }
                guard parts[0] != Substring(outputFolder) else { throw SlurmStagingError("an input cannot be in \(outputFolder)/: \(path)") }
                var parent = work(folder)
                for part in parts.dropLast() {
                    parent = parent.appendingPathComponent(String(part))
                    if !manager.fileExists(atPath: parent.path) {
                        do { try manager.createDirectory(at: parent, withIntermediateDirectories: false) } catch {
                            throw SlurmStagingError("the folder of the input \(path) could not be made (a file and a folder of the same name, or a name too long)")
                        }
                        created.append(parent)
                    }
                }
                let file = work(folder).appendingPathComponent(path)
                do { try data.write(to: file, options: .withoutOverwriting) } catch {
                    throw SlurmStagingError("the input \(path) could not be written (a file and a folder of the same name, or a name too long)")
                }
                created.append(file)
            }
            let text = scriptText(folder: folder, command: command, sandbox: sandbox)
            try Data(text.utf8).write(to: script(folder))
            created.append(script(folder))
            chmod(script(folder).path, 0o700)
            if let owner {
                for url in created.reversed() where lchown(url.path, owner.uid, owner.gid) != 0 {
                    throw SlurmStagingError("\(url.lastPathComponent) could not be given to \(owner.name): \(String(cString: strerror(errno)))")
                }
            }
            return text
        } catch {
            try? manager.removeItem(at: folder)
            throw error
        }
    }

    /// What a job left: the files under work/outputs/ and its two logs.
    public struct Collected: Sendable {
        public var outputs: [String: Data] = [:]
        public var stdout = ""
        public var stderr = ""
        /// Files left out, each with why (a link, someone else's file, over a limit).
        public var skipped: [String] = []
    }

    /// Reads a job's outputs and logs without following any link, taking only regular files owned by `owner` (when
    /// given) with one name each; at most `maxFiles` files, `maxFileBytes` each and `maxTotalBytes` in all, and
    /// `logBytes` of each log; folders `maxDepth` deep and `maxEntries` names in all (what is past them is left).
    public static func collect(_ folder: URL, owner: SlurmServiceAccount?, maxFiles: Int, maxFileBytes: Int, maxTotalBytes: Int,
                               logBytes: Int, maxDepth: Int = 16, maxEntries: Int = 20_000) -> Collected {
        var collected = Collected()
        var entries = 0, skippedMore = 0
        func skip(_ text: String) {
            if collected.skipped.count < 20 { collected.skipped.append(text) } else { skippedMore += 1 }
        }
        let root = open(folder.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard root >= 0 else { skip("the job's folder could not be opened"); return collected }
        defer { close(root) }
        var total = 0
        func readFile(at dir: Int32, _ name: String, limit: Int, label: String, counted: Bool = false) -> Data? {
            let fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)
            guard fd >= 0 else {
                if errno != ENOENT { skip("\(label): not a plain file") }
                return nil
            }
            defer { close(fd) }
            var info = stat()
            guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { skip("\(label): not a plain file"); return nil }
            if let owner, info.st_uid != owner.uid { skip("\(label): not the job's own file"); return nil }
            guard info.st_nlink == 1 else { skip("\(label): a file with more than one name"); return nil }
            // Sizes are checked before reading: a job's sparse giants are not read to be refused.
            if counted {
                guard Int(info.st_size) <= maxFileBytes else { skip("\(label): over \(maxFileBytes >> 20) MB"); return nil }
                guard total + Int(info.st_size) <= maxTotalBytes else { skip("\(label): outputs over \(maxTotalBytes >> 20) MB in all"); return nil }
            }
            var data = Data()
            var buffer = [UInt8](repeating: 0, count: 64 * 1024)
            while data.count < limit {
                let count = read(fd, &buffer, min(buffer.count, limit - data.count))
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else { break }
                data.append(buffer, count: count)
            }
            return data
        }
        func subfolder(of dir: Int32, _ name: String) -> Int32? {
            let fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard fd >= 0 else { return nil }
            var info = stat()
            if let owner, fstat(fd, &info) == 0, info.st_uid != owner.uid, name != "work" {
                close(fd)
                return nil
            }
            return fd
        }
        collected.stdout = readFile(at: root, "stdout.log", limit: logBytes, label: "stdout.log").map { String(decoding: $0, as: UTF8.self) } ?? ""
        collected.stderr = readFile(at: root, "stderr.log", limit: logBytes, label: "stderr.log").map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard let work = subfolder(of: root, "work") else { return collected }
        defer { close(work) }
        guard let outputs = subfolder(of: work, outputFolder) else { skip("outputs/ is not a folder"); return collected }
        func walk(_ dir: Int32, prefix: String, depth: Int) {
            guard let stream = fdopendir(dup(dir)) else { return }
            var names: [String] = []
            while let entry = readdir(stream) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                guard name != "." && name != ".." else { continue }
                entries += 1
                guard entries <= maxEntries else { break }
                names.append(name)
            }
            closedir(stream)
            for name in names.sorted() {
                let path = prefix + name
                if let child = subfolder(of: dir, name) {
                    if depth < maxDepth { walk(child, prefix: path + "/", depth: depth + 1) } else { skip("\(path)/: folders over \(maxDepth) deep") }
                    close(child)
                    continue
                }
                guard collected.outputs.count < maxFiles else { skip("\(path): more than \(maxFiles) files"); continue }
                guard let data = readFile(at: dir, name, limit: maxFileBytes + 1, label: path, counted: true) else { continue }
                if data.count > maxFileBytes { skip("\(path): over \(maxFileBytes >> 20) MB"); continue }
                if total + data.count > maxTotalBytes { skip("\(path): outputs over \(maxTotalBytes >> 20) MB in all"); continue }
                total += data.count
                collected.outputs[path] = data
            }
        }
        walk(outputs, prefix: outputFolder + "/", depth: 1)
        close(outputs)
        if entries > maxEntries { skip("outputs/: more than \(maxEntries) names; the rest") }
        if skippedMore > 0 { collected.skipped.append("and \(skippedMore) more") }
        return collected
    }

    /// Removes the job's folder. When the platform is root, everything in it is removed as `owner` (made writable
    /// first: a job may leave read-only folders), so nothing the job linked or moved there can make the platform
    /// delete a file of the host's; the platform then removes only the empty folder. False when something was left.
    @discardableResult
    public static func remove(_ folder: URL, owner: SlurmServiceAccount?) -> Bool {
        guard let owner else { return (try? FileManager.default.removeItem(at: folder)) != nil }
        _ = try? SlurmCommand.runBlocking(["chmod", "-R", "u+rwX", folder.path], as: owner, timeout: 120)
        _ = try? SlurmCommand.runBlocking(["find", folder.path, "-mindepth", "1", "-delete"], as: owner, timeout: 120)
        return rmdir(folder.path) == 0 || errno == ENOENT
    }
}
