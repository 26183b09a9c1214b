// Runs the real `campuscloud` binary, as IT staff and scripts do: exit codes, messages, and the demo serving.
import Testing
import Foundation
import Grading
import Sandbox
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

@Suite struct CLITests {
    struct Outcome { var status: Int32; var stdout: String; var stderr: String }

    static var binary: URL {
        let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("campuscloud")
        if FileManager.default.isExecutableFile(atPath: beside.path) { return beside }
        return packageRoot.appendingPathComponent(".build/debug/campuscloud")
    }

    static func temporaryFolder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cc-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Runs the binary on a thread of its own and waits without holding one of the test pool's few threads (a
    /// blocked pool delays every other test's awaits on a two-core runner).
    static func run(_ arguments: [String], environment: [String: String] = [:], in folder: URL? = nil, prefix: [String] = [],
                    binary: URL = binary) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try runBlocking(arguments, environment: environment, in: folder, prefix: prefix, binary: binary) })
            }
        }
    }

    /// `prefix`: a program (and its arguments) that runs the binary, such as setpriv to run it as another user.
    static func runBlocking(_ arguments: [String], environment: [String: String] = [:], in folder: URL? = nil, prefix: [String] = [],
                            binary: URL = binary) throws -> Outcome {
        let process = Process()
        process.executableURL = prefix.first.map { URL(fileURLWithPath: $0) } ?? binary
        process.arguments = prefix.isEmpty ? arguments : Array(prefix.dropFirst()) + [binary.path] + arguments
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = nil
        env["LOG_LEVEL"] = "error"
        env.merge(environment) { $1 }
        process.environment = env
        let workdir = try folder ?? temporaryFolder()
        process.currentDirectoryURL = workdir
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try Sandbox.startingProcess { try process.run() }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// `campuscloud similarity FOLDER` over hand-ins on disk: the copy ranks first; links (to another user's file and to
    /// /dev/zero), a pipe nobody writes to and a file over the size limit are never read, so the run ends and a hand-in
    /// made only of those is not a hand-in.
    @Test func similarityReadsOnlyRegularFilesOfHandInsOnDisk() async throws {
        let folder = try Self.temporaryFolder(), fm = FileManager.default
        defer { try? fm.removeItem(at: folder) }
        let program = """
            def parse(lines):
                table = {}
                for line in lines:
                    name, score = line.split(",")
                    table.setdefault(name, []).append(int(score))
                return table

            def best(table):
                top, top_mean = None, -1
                for name, scores in table.items():
                    mean = sum(scores) / len(scores)
                    if mean > top_mean:
                        top, top_mean = name, mean
                return top, top_mean

            def report(table):
                return "\\n".join(f"{n}: {min(s)} {max(s)}" for n, s in sorted(table.items()))
            """
        let renamed = program.replacingOccurrences(of: "table", with: "marks").replacingOccurrences(of: "name", with: "who")
        let other = "import sys\nprint(sorted(set(sys.stdin.read().split()), key=len)[:3])\nwhile True:\n    break\n"
        for (name, text) in [("ann", program), ("bob", renamed), ("cat", other)] {
            try fm.createDirectory(at: folder.appendingPathComponent(name), withIntermediateDirectories: true)
            try text.write(to: folder.appendingPathComponent("\(name)/main.py"), atomically: true, encoding: .utf8)
        }
        let hostile = folder.appendingPathComponent("eve")
        try fm.createDirectory(at: hostile, withIntermediateDirectories: true)
        try fm.createSymbolicLink(atPath: hostile.appendingPathComponent("passwd.py").path, withDestinationPath: "/etc/passwd")
        try fm.createSymbolicLink(atPath: hostile.appendingPathComponent("zero.py").path, withDestinationPath: "/dev/zero")
        #expect(mkfifo(hostile.appendingPathComponent("pipe.py").path, 0o600) == 0)
        try Data(repeating: UInt8(ascii: "x"), count: (1 << 20) + 1).write(to: hostile.appendingPathComponent("huge.py"))
        let outcome = try await Self.run(["similarity", folder.path, "--json"])
        #expect(outcome.status == 0, "\(outcome.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(outcome.stdout.utf8)) as? [String: Any]
        let documents = (report?["documents"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
        #expect(documents == ["ann", "bob", "cat"])
        let first = (report?["pairs"] as? [[String: Any]])?.first
        #expect(first?["a"] as? String == "ann" && first?["b"] as? String == "bob" && (first?["similarity"] as? Double ?? 0) > 0.9)
        // A folder that is not there is one sentence, not a crash.
        let missing = try await Self.run(["similarity", folder.appendingPathComponent("nothing").path])
        #expect(missing.status != 0 && !missing.stderr.isEmpty)
    }

    @Test func binaryIsBuilt() async {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary.path), "build it first: swift build --build-tests")
    }

    @Test func helpListsEveryCommand() async throws {
        let result = try await Self.run(["--help"])
        #expect(result.status == 0)
        for command in ["serve", "migrate", "demo"] { #expect(result.stdout.contains(command)) }
        let serveHelp = try await Self.run(["serve", "--help"])
        #expect(serveHelp.stdout.contains("--auto-migrate"))
    }

    @Test(arguments: [["bogus"], ["serve", "--bogus"], ["migrate", "--port"], ["serve", "--port", "99999"]])
    func wrongCommandLinePrintsUsageAndExits2(arguments: [String]) async throws {
        let result = try await Self.run(arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains("Usage") || result.stderr.contains("USAGE"))
    }

    @Test func unreachableDatabaseNamesTheHostNotThePassword() async throws {
        let result = try await Self.run(["migrate"], environment: ["DATABASE_URL": "postgres://cc:hunter2@127.0.0.1:1/campus"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("127.0.0.1"))
        #expect(!result.stderr.contains("hunter2"))
    }

    @Test func badConfigurationStopsWithOneSentence() async throws {
        let result = try await Self.run(["migrate"], environment: ["LOG_LEVEL": "loud"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("LOG_LEVEL"))
    }

    @Test func migrateAppliesAndRevertsAndServeRefusesAnUnmigratedDatabase() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let refused = try await Self.run(["serve", "--port", "1"], in: folder)
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("campuscloud migrate"))

        let applied = try await Self.run(["migrate"], in: folder)
        #expect(applied.status == 0)
        #expect(applied.stdout.contains("Applied App.CreateUser"))
        let again = try await Self.run(["migrate"], in: folder)
        #expect(again.stdout.contains("nothing to apply"))
        let reverted = try await Self.run(["migrate", "--revert"], in: folder)
        #expect(reverted.status == 0)
        #expect(reverted.stdout.contains("Reverted App.CreateUser"))
        #expect(FileManager.default.fileExists(atPath: folder.appendingPathComponent("campuscloud-data/secret").path))
    }

    /// `campuscloud backup` of a migrated platform, `restore` into a new folder (its secret file with it), and a
    /// second `restore` over the restored platform refused with one sentence and status 1.
    @Test func backupAndRestoreFromTheShell() async throws {
        let folder = try Self.temporaryFolder(), target = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder); try? FileManager.default.removeItem(at: target) }
        #expect(try await Self.run(["migrate"], in: folder).status == 0)
        let backup = folder.appendingPathComponent("backup").path
        let made = try await Self.run(["backup", backup], in: folder)
        #expect(made.status == 0, "\(made.stderr)")
        #expect(made.stdout.contains("Backed up the sqlite database") && made.stdout.contains("the secret file"))
        let restored = try await Self.run(["restore", backup], in: target)
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("Restored the sqlite database"))
        let secret = { (root: URL) in FileManager.default.contents(atPath: root.appendingPathComponent("campuscloud-data/secret").path) }
        #expect(secret(target) != nil && secret(target) == secret(folder))
        #expect(try await Self.run(["migrate"], in: target).stdout.contains("nothing to apply"))
        let over = try await Self.run(["restore", backup], in: target)
        #expect(over.status == 1 && over.stderr.contains("move it away"), "\(over.stderr)")
        // From a folder that is not the platform's, the default relative paths name nothing: refused, nothing made.
        let elsewhere = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: elsewhere) }
        let lost = try await Self.run(["backup", elsewhere.appendingPathComponent("b").path], in: elsewhere)
        #expect(lost.status == 1 && lost.stderr.contains("There is no database at"), "\(lost.stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: elsewhere.path).isEmpty)
    }

    /// The README's first command: the demo migrates, loads data, prints the sign-ins and serves pages and /healthz.
    /// `campuscloud demo` in a fresh folder on a free port, once /healthz answers.
    static func startDemo() async throws -> (process: Process, port: Int, folder: URL, out: Pipe, health: (Int, String)?) {
        let folder = try Self.temporaryFolder()
        let port = Int.random(in: 20000..<40000)
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = ["demo", "--port", String(port)]
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = nil
        env["LOG_LEVEL"] = "error"
        process.environment = env
        process.currentDirectoryURL = folder
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try Sandbox.startingProcess { try process.run() }
        var health: (Int, String)?
        for _ in 0..<100 where health == nil {
            try await Task.sleep(for: .milliseconds(200))
            health = try? await Self.get("http://127.0.0.1:\(port)/healthz")
        }
        return (process, port, folder, out, health)
    }

    @Test func demoServesPagesAndHealth() async throws {
        let (process, port, folder, out, health) = try await Self.startDemo()
        defer { try? FileManager.default.removeItem(at: folder) }
        defer { process.terminate(); process.waitUntilExit() }
        #expect(health?.0 == 200)
        #expect(health?.1.contains(#""database":"ok""#) == true)
        let landing = try await Self.get("http://127.0.0.1:\(port)/")
        #expect(landing.0 == 200)
        #expect(landing.1.contains("Nimbus Cloud"))
        // A real server refuses a body over the limit before any handler reads it, with a JSON sentence.
        var oversize = URLRequest(url: URL(string: "http://127.0.0.1:\(port)/api/v1/auth/token")!)
        oversize.httpMethod = "POST"
        oversize.setValue("application/json", forHTTPHeaderField: "Content-Type")
        oversize.httpBody = Data(("{\"email\": \"" + String(repeating: "x", count: 2 << 20) + "\"}").utf8)
        let (_, tooLarge) = try await URLSession.shared.data(for: oversize)
        #expect((tooLarge as? HTTPURLResponse)?.statusCode == 413)
        process.terminate()
        let printed = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(printed.contains("student30@demo.test"))
        #expect(printed.contains("campuscloud-demo"))
    }

    /// The client commands against a running demo: `job submit --wait`, `status`, `outputs`, `cancel`, and `submit`.
    @Test func clientCommandsRunJobsAndHandInAgainstARunningServer() async throws {
        let (process, port, folder, _, health) = try await Self.startDemo()
        defer { try? FileManager.default.removeItem(at: folder) }
        defer { process.terminate(); process.waitUntilExit() }
        #expect(health?.0 == 200)
        let server = "http://127.0.0.1:\(port)"
        func token(_ email: String) async throws -> String {
            var request = URLRequest(url: URL(string: server + "/api/v1/auth/token")!)
            request.httpMethod = "POST"
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
            request.httpBody = Data(#"{"email": "\#(email)", "password": "campuscloud-demo"}"#.utf8)
            let (data, _) = try await URLSession.shared.data(for: request)
            return try #require((try JSONSerialization.jsonObject(with: data) as? [String: Any])?["token"] as? String)
        }
        func json(_ path: String, _ bearer: String) async throws -> Any {
            var request = URLRequest(url: URL(string: server + path)!)
            request.setValue("Bearer \(bearer)", forHTTPHeaderField: "Authorization")
            return try JSONSerialization.jsonObject(with: try await URLSession.shared.data(for: request).0)
        }
        let ta = try await token("ta@demo.test")
        let me = try #require(try await json("/api/v1/me", ta) as? [String: Any])
        let projectID = try #require(((me["memberships"] as? [String: Any])?["projects"] as? [[String: Any]])?.first?["id"] as? String)
        let work = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: work) }
        try Data("some input\n".utf8).write(to: work.appendingPathComponent("in.txt"))
        let env = ["CAMPUSCLOUD_TOKEN": ta]

        let ran = try await Self.run(["job", "submit", "--server", server, "--project", projectID, "--command", "cp in.txt outputs/copy.txt; echo hello-from-job",
                                "--wall-seconds", "30", "--wait", "in.txt"], environment: env, in: work)
        #expect(ran.status == 0, "\(ran.stdout) \(ran.stderr)")
        #expect(ran.stdout.contains("hello-from-job") && ran.stdout.contains("succeeded"))
        let jobID = try #require(ran.stdout.split(separator: "\n").first { $0.hasPrefix("Queued job ") }.map { String($0.dropFirst("Queued job ".count)) })
        let status = try await Self.run(["job", "status", "--server", server, jobID], environment: env)
        #expect(status.status == 0 && status.stdout.contains("succeeded") && status.stdout.contains("copy.txt"))
        let outputs = try await Self.run(["job", "outputs", "--server", server, jobID, "--to", "out.zip"], environment: env, in: work)
        #expect(outputs.status == 0)
        #expect(FileManager.default.contents(atPath: work.appendingPathComponent("out.zip").path)?.prefix(2) == Data("PK".utf8))
        let logs = try await Self.run(["job", "logs", "--server", server, jobID], environment: env)
        #expect(logs.stdout.contains("hello-from-job"))

        let long = try await Self.run(["job", "submit", "--server", server, "--project", projectID, "--command", "sleep 60", "--wall-seconds", "90"], environment: env)
        let longID = try #require(long.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        let cancelled = try await Self.run(["job", "cancel", "--server", server, longID], environment: env)
        #expect(cancelled.status == 0, "\(cancelled.stderr)")
        var final = ""
        for _ in 0..<150 where !final.contains("cancelled") {
            try await Task.sleep(for: .milliseconds(200))
            final = try await Self.run(["job", "status", "--server", server, longID], environment: env).stdout
        }
        #expect(final.contains("cancelled"))
        #expect(try await Self.run(["job", "status", "--server", server, "not-an-id"], environment: env).status == 2)
        #expect(try await Self.run(["job", "status", "--server", server, jobID], environment: ["CAMPUSCLOUD_TOKEN": "wrong"]).status == 1)

        // `campuscloud lab`: the demo's shell in CS340, started, followed, stopped, its files downloaded.
        let learner = try await token("student30@demo.test")
        let courses = try #require(((((try await json("/api/v1/me", learner)) as? [String: Any])?["memberships"] as? [String: Any])?["courses"] as? [[String: Any]]))
        let cloudCourse = try #require(courses.first { ($0["name"] as? String)?.hasPrefix("CS340") == true }?["id"] as? String)
        let labs = try await Self.run(["lab", "list", "--server", server, "--course", cloudCourse], environment: ["CAMPUSCLOUD_TOKEN": learner])
        #expect(labs.status == 0 && labs.stdout.contains("Linux shell"), "\(labs.stdout) \(labs.stderr)")
        let shellID = try #require(labs.stdout.split(separator: "\n").first { $0.contains("Linux shell") }?.split(separator: "\t").first.map(String.init))
        let started = try await Self.run(["lab", "start", "--server", server, shellID], environment: ["CAMPUSCLOUD_TOKEN": learner])
        #expect(started.status == 0 && started.stdout.contains("/labs/sessions/"), "\(started.stdout) \(started.stderr)")
        let sessionID = try #require(started.stdout.split(separator: "\n").first { $0.hasPrefix("Started session ") }.map { String($0.dropFirst("Started session ".count)) })
        #expect(try await Self.run(["lab", "start", "--server", server, shellID], environment: ["CAMPUSCLOUD_TOKEN": learner]).status == 1)  // one at a time
        let running = try await Self.run(["lab", "status", "--server", server, sessionID], environment: ["CAMPUSCLOUD_TOKEN": learner])
        #expect(running.stdout.contains("running"), "\(running.stdout) \(running.stderr)")
        let stopped = try await Self.run(["lab", "stop", "--server", server, sessionID], environment: ["CAMPUSCLOUD_TOKEN": learner])
        #expect(stopped.status == 0 && stopped.stdout.contains("stopped"), "\(stopped.stdout) \(stopped.stderr)")
        let files = try await Self.run(["lab", "files", "--server", server, shellID, "--to", "home.zip"], environment: ["CAMPUSCLOUD_TOKEN": learner], in: work)
        #expect(files.status == 0)
        let home = try SafeArchive.read(try #require(FileManager.default.contents(atPath: work.appendingPathComponent("home.zip").path)))
        #expect(home["README.txt"] != nil)
        #expect(try await Self.run(["lab", "status", "--server", server, sessionID], environment: ["CAMPUSCLOUD_TOKEN": ta]).status == 1)  // not the TA's

        // `campuscloud submit` hands in to Lab 1 and prints the grade.
        let student = try await token("student5@demo.test")
        let courseID = try #require(((((try await json("/api/v1/me", student)) as? [String: Any])?["memberships"] as? [String: Any])?["courses"] as? [[String: Any]])?
            .first?["id"] as? String)
        let assignments = try #require(try await json("/api/v1/courses/\(courseID)/assignments", student) as? [[String: Any]])
        let lab1 = try #require(assignments.first { ($0["title"] as? String)?.hasPrefix("Lab 1") == true }?["id"] as? String)
        try Data("print('Hello, world')\n".utf8).write(to: work.appendingPathComponent("hello.py"))
        try Data("a, b = map(int, input().split())\nprint(a + b)\n".utf8).write(to: work.appendingPathComponent("add.py"))
        let handIn = try await Self.run(["submit", "--server", server, "--assignment", lab1, "hello.py", "add.py"], environment: ["CAMPUSCLOUD_TOKEN": student], in: work)
        #expect(handIn.status == 0, "\(handIn.stdout) \(handIn.stderr)")
        #expect(handIn.stdout.contains("Score: 5 / 5"))
    }

    static func get(_ url: String) async throws -> (Int, String) {
        let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, String(decoding: data, as: UTF8.self))
    }

    @Test func aProcessStartingBesideAnotherLeavesItsRunningJobsAlone() async throws {
        // This test process runs a job on the same jobs folder as the CLI's `sandbox run` (a worker beside serve):
        // the CLI's start-up clean-up must not remove the running job's folder, or its outputs are lost.
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        var configuration = Sandbox.Configuration(jobsRoot: folder.path + "/data/sandbox")
        configuration.uidRange = 61_800...61_819
        (configuration.warmLaunchers, configuration.readySandboxes, configuration.lanes) = (0, 0, 0)
        let sandbox = Sandbox(configuration: configuration)
        defer { sandbox.shutdown() }
        let job = SandboxJob(command: ["sh", "-c", "sleep 2; mkdir -p results; echo kept > results/out.txt"], outputDirectory: "results")
        async let running = sandbox.run(job)
        // Once the job's folder exists, a second process starts on the same folder.
        for _ in 0..<100 {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: configuration.jobsRoot)) ?? []
            if entries.contains(where: { !$0.hasPrefix(".") }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let other = try await Self.run(["sandbox", "run", "--", "true"], environment: ["CAMPUSCLOUD_DATA_DIR": folder.path + "/data"], in: folder)
        #expect(other.status == 0, "\(other.stderr)")
        let result = try await running
        #expect(result.status == .ok, "\(result.stderr)")
        #expect(result.outputFiles.map(\.path) == ["out.txt"], "the running job's folder was removed by the other process")
        // A folder left by a process that is gone is removed at the next start.
        // (Ownership is a lock each process holds, not its pid: a pid may be another's in a container or after a restart.)
        let abandoned = configuration.jobsRoot + "/o0123456789abcdef-gone", legacy = configuration.jobsRoot + "/p999999-gone"
        for path in [abandoned, legacy] { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        FileManager.default.createFile(atPath: configuration.jobsRoot + "/.owner-0123456789abcdef", contents: nil)
        #expect(try await Self.run(["sandbox", "run", "--", "true"], environment: ["CAMPUSCLOUD_DATA_DIR": folder.path + "/data"], in: folder).status == 0)
        #expect(!FileManager.default.fileExists(atPath: abandoned) && !FileManager.default.fileExists(atPath: legacy))
        #expect(!FileManager.default.fileExists(atPath: configuration.jobsRoot + "/.owner-0123456789abcdef"))
    }

    @Test func asANonRootUserWithoutIsolationTheSandboxRefusesUnlessToldItIsUnsafe() async throws {
        guard getuid() == 0 else { return }  // becoming another user needs root (as this project's CI has)
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        chmod(folder.path, 0o777)
        // A copy of the binary nobody can run wherever this checkout is (a parent folder may be root's alone).
        let copy = folder.appendingPathComponent("campuscloud")
        try FileManager.default.copyItem(at: Self.binary, to: copy)
        chmod(copy.path, 0o755)
        // The platform as `nobody`: no host uid per job, no cgroups of its own, its jobs folder on the disk.
        func asNobody(_ extra: [String]) async throws -> Outcome {
            try await Self.run(["sandbox", "run", "--", "echo", "ran"], environment: ["CAMPUSCLOUD_DATA_DIR": folder.path + "/data"], in: folder,
                               prefix: ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/env"] + extra, binary: copy)
        }
        let refused = try await asNobody([])
        #expect(refused.status == 1 && refused.stdout.isEmpty, "\(refused.stdout)")
        #expect(refused.stderr.contains("non-root user without delegated cgroups") && refused.stderr.contains("deploy/campuscloud.service"), "\(refused.stderr)")
        let allowed = try await asNobody(["CAMPUSCLOUD_UNSAFE_WEAK_SANDBOX=1"])
        #expect(allowed.status == 0 && allowed.stdout == "ran\n", "\(allowed.stderr)")
    }

    @Test func sandboxRunPrintsOneJSONObjectWithEveryField() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let result = try await Self.run(["sandbox", "run", "--json", "--wall-seconds", "5", "--", "python3", "-c", "print(6*7)"],
                                  environment: ["CAMPUSCLOUD_DATA_DIR": folder.path + "/data"], in: folder)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        for key in ["status", "exit_code", "signal", "cpu_ms", "wall_ms", "max_rss_kb", "stdout", "stderr", "truncated"] {
            #expect(object.keys.contains(key), "missing \(key)")
        }
        #expect(object["status"] as? String == "ok")
        #expect(object["stdout"] as? String == "42\n")
        #expect(object["signal"] is NSNull)
        #expect(result.stdout.split(separator: "\n").count == 1)
    }

    @Test func sandboxRunStreamsOutputAndExitsWithTheJobsCode() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let env = ["CAMPUSCLOUD_DATA_DIR": folder.path + "/data"]
        let result = try await Self.run(["sandbox", "run", "--", "sh", "-c", "echo out; echo err >&2; exit 3"], environment: env, in: folder)
        #expect(result.status == 3)
        #expect(result.stdout == "out\n")
        #expect(result.stderr.contains("err"))
        let stopped = try await Self.run(["sandbox", "run", "--wall-seconds", "0.5", "--", "sleep", "5"], environment: env, in: folder)
        #expect(stopped.status == 124)
        #expect(stopped.stderr.contains("timeout"))
        let usage = try await Self.run(["sandbox", "run"], environment: env, in: folder)
        #expect(usage.status == 2)
    }

    @Test func layersAreBuiltOnceAndUsedByRuns() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let env = ["CAMPUSCLOUD_DATA_DIR": folder.path + "/data"]
        let built = try await Self.run(["sandbox", "build-layer", "cli-tools", "--", "sh", "-c", "echo 'print(\"from layer\")' > /usr/local/bin/cc-cli.py; echo set up"],
                                 environment: env, in: folder)
        #expect(built.status == 0, "stderr: \(built.stderr)")
        #expect(built.stdout.contains("set up"))
        #expect(built.stdout.contains("Layer cli-tools is ready."))
        let used = try await Self.run(["sandbox", "run", "--layer", "cli-tools", "--", "python3", "/usr/local/bin/cc-cli.py"], environment: env, in: folder)
        #expect(used.status == 0)
        #expect(used.stdout == "from layer\n")
        let missing = try await Self.run(["sandbox", "run", "--layer", "nope", "--", "true"], environment: env, in: folder)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("build-layer"))
        let failed = try await Self.run(["sandbox", "build-layer", "bad", "--", "sh", "-c", "exit 4"], environment: env, in: folder)
        #expect(failed.status == 4)
        #expect(failed.stderr.contains("was not built"))
    }

    @Test func adminsCreatePeopleAndPrintResetLinks() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        #expect(try await Self.run(["migrate"], in: folder).status == 0)
        let env = ["CAMPUSCLOUD_PUBLIC_URL": "https://campuscloud.example.edu/"]
        let created = try await Self.run(["admin", "create-user", "--email", "Head@Uni.edu", "--name", "Head of IT", "--admin"], environment: env, in: folder)
        #expect(created.status == 0, "stderr: \(created.stderr)")
        #expect(created.stdout.contains("Created head@uni.edu (administrator)"))
        #expect(created.stdout.contains("https://campuscloud.example.edu/set-password?token="))
        let twice = try await Self.run(["admin", "create-user", "--email", "head@uni.edu", "--name", "Again"], in: folder)
        #expect(twice.status == 1)
        #expect(twice.stderr.contains("already"))
        let reset = try await Self.run(["admin", "reset-link", "HEAD@uni.edu"], in: folder)
        #expect(reset.status == 0)
        #expect(reset.stdout.contains("/set-password?token="))
        let nobody = try await Self.run(["admin", "reset-link", "nobody@uni.edu"], in: folder)
        #expect(nobody.status == 1)
        #expect(nobody.stderr.contains("nobody@uni.edu"))
        #expect(try await Self.run(["admin", "create-user", "--email", "not-an-email", "--name", "X"], in: folder).status == 2)
    }

    @Test func managersGrantAllocateAndReadStatementsFromTheShell() async throws {
        let folder = try Self.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("ledger.sqlite").path
        try await withTestApp(database: .sqliteFile(path: path)) { app in try await app.loadDemoData() }
        let env = ["DATABASE_URL": "sqlite://" + path]
        let programme = "Cloud & AI Empowerment Programme"
        let grant = try await Self.run(["ledger", "grant", "--programme", programme, "--amount", "5000", "--key", "t1"], environment: env, in: folder)
        #expect(grant.status == 0, "stderr: \(grant.stderr)")
        #expect(grant.stdout.contains("the pool has 5000 free"))
        #expect(try await Self.run(["ledger", "grant", "--programme", programme, "--amount", "5000", "--key", "t1"], environment: env, in: folder).stdout
            .contains("the pool has 5000 free"))
        let allocate = try await Self.run(["ledger", "allocate", "--programme", programme, "--course", "CS101", "--amount", "1200.5", "--expires", "2099-01-31"],
                                    environment: env, in: folder)
        #expect(allocate.status == 0, "stderr: \(allocate.stderr)")
        let tooMuch = try await Self.run(["ledger", "allocate", "--programme", programme, "--course", "CS340", "--amount", "4000"], environment: env, in: folder)
        #expect(tooMuch.status == 1)
        #expect(tooMuch.stderr.contains("The programme pool has 3799.5 credits free; this needs 4000."))
        let balance = try await Self.run(["ledger", "balance", "--programme", programme], environment: env, in: folder)
        #expect(balance.stdout.contains("granted 5000"))
        #expect(balance.stdout.contains("CS101 Introduction to Programming"))
        #expect(balance.stdout.contains("1200.5"))
        let statement = try await Self.run(["ledger", "statement", "--programme", programme], environment: env, in: folder)
        let lines = statement.stdout.split(separator: "\r\n")
        #expect(lines.first == "time,kind,from,to,credits,hold,memo")
        #expect(lines.count == 3)
        #expect(lines.last?.contains(",allocate,the programme pool,the CS101 allocation,1200.5,,allocation to CS101") == true)
        #expect(try await Self.run(["ledger", "grant", "--programme", programme, "--amount", "-5"], environment: env, in: folder).status == 2)
        #expect(try await Self.run(["ledger", "grant", "--programme", "Nope", "--amount", "5"], environment: env, in: folder).status == 1)
    }
}
