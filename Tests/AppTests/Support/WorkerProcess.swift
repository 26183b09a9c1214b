// A `campuscloud worker` in a process of its own, beside the test's platform: on a database both reach (a SQLite
// file in `folder`, or the test's PostgreSQL) and a data folder of its own in `folder`.
import Foundation
import Glibc
import Sandbox
import Vapor
@testable import App

enum WorkerProcess {
    /// A folder for the test's database and the worker's files, and the database both processes use.
    static func folder() throws -> (URL, DatabaseURL?) {
        let folder = try CLITests.temporaryFolder()
        chmod(folder.path, 0o711)
        return (folder, TestDatabase.isPostgres ? nil : .sqliteFile(path: folder.appendingPathComponent("db.sqlite").path))
    }

    /// Removes the folder, unmounting what a killed worker could not (its jobs' folders).
    static func remove(_ folder: URL) {
        let mounts = (try? String(contentsOfFile: "/proc/mounts", encoding: .utf8)) ?? ""
        for line in mounts.split(separator: "\n") {
            let target = line.split(separator: " ").dropFirst().first.map(String.init) ?? ""
            if target.hasPrefix(folder.path) { _ = umount2(target, Int32(MNT_DETACH)) }
        }
        try? FileManager.default.removeItem(at: folder)
    }

    /// Starts `campuscloud worker` with `arguments`, its environment `extra` added to the shared database's.
    static func start(_ arguments: [String], app: Application, folder: URL, environment extra: [String: String] = [:]) throws -> Process {
        let url: String
        switch app.platformConfig.database {
        case .postgres(let raw, _, _, _): url = raw
        case .sqliteFile(let path): url = "sqlite://" + path
        case .sqliteMemory: throw WorkerProcessError()
        }
        let process = Process()
        process.executableURL = CLITests.binary
        process.arguments = ["worker"] + arguments
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = url
        env["CAMPUSCLOUD_DATA_DIR"] = folder.appendingPathComponent("worker-data").path
        env["CAMPUSCLOUD_SECRET"] = app.platformSecret
        env["LOG_LEVEL"] = "warning"
        env.merge(extra) { $1 }
        process.environment = env
        // What it logs is kept in the folder, for a test that fails to show (`log(in:)`).
        if !FileManager.default.fileExists(atPath: logFile(folder).path) { FileManager.default.createFile(atPath: logFile(folder).path, contents: nil) }
        let log = try FileHandle(forWritingTo: logFile(folder))
        log.seekToEndOfFile()
        process.standardOutput = log
        process.standardError = log
        try Sandbox.startingProcess { try process.run() }
        return process
    }

    private static func logFile(_ folder: URL) -> URL { folder.appendingPathComponent("worker.log") }

    /// The last lines the worker processes started in `folder` logged (warnings and errors), for a failing test's message.
    static func log(in folder: URL) -> String {
        let text = (try? String(contentsOf: logFile(folder), encoding: .utf8)) ?? ""
        return "worker log:\n" + text.split(separator: "\n").suffix(40).joined(separator: "\n")
    }

    /// Stops the process (SIGTERM; SIGKILL after 60 s) and returns its exit status.
    @discardableResult
    static func stop(_ process: Process) -> Int32 {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        for _ in 0..<600 where process.isRunning { usleep(100_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    struct WorkerProcessError: Error, CustomStringConvertible {
        var description: String { "a worker process needs a database two processes share" }
    }
}
