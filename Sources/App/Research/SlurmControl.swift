// What the platform asks of a Slurm cluster — queue a job, list the service account's jobs, cancel jobs — by either
// way a cluster can be reached: the Slurm commands on this host (a submit node: sbatch, squeue, scancel, as the
// service account) or slurmrestd (its REST API, as the service account by its JWT). SlurmJobs decides; this only asks.
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Slurm
import Vapor

enum SlurmControl {
    static let timeout: TimeAmount = .seconds(30)
    static let largestAnswer = 32 << 20

    /// Queues `submission` (its batch script `script`); the scheduler's id for it.
    static func submit(_ submission: SlurmSubmission, script: String, access: SlurmClusters.Access, app: Application) async throws -> Int {
        guard let rest = access.rest else {
            let answer = try await SlurmCommand.run(submission.sbatchArguments, environment: access.environment, as: access.runAs)
            guard let id = SlurmCommand.submittedJobID(answer) else {
                throw SlurmCommandFailure(command: "sbatch", status: 0, output: "an answer without a job id: \(answer.prefix(200))")
            }
            return id
        }
        // The job's whole environment, as sbatch would pass on the commands' clean one.
        let environment = ["PATH": SlurmCommand.basePath, "LANG": "C.UTF-8"].merging(access.environment) { $1 }
        let answer = try await send(.POST, SlurmREST.submitPath, body: try SlurmREST.submitBody(submission, script: script, environment: environment),
                                    rest: rest, app: app)
        guard let id = SlurmREST.submittedJobID(answer) else {
            throw SlurmCommandFailure(command: "slurmrestd job/submit", status: 0,
                                      output: SlurmREST.errors(answer).joined(separator: "; ").nonEmpty ?? "an answer without a job id")
        }
        return id
    }

    /// The service account's jobs the scheduler still knows (queued, running, and those ended a little while ago), and
    /// only its: `squeue --me` run as the account, or, through slurmrestd, those of the account's name on the cluster.
    /// (`--all`: jobs in hidden partitions too — a job moved there is still followed.)
    static func queue(access: SlurmClusters.Access, app: Application) async throws -> [SlurmQueuedJob] {
        guard let rest = access.rest else {
            let answer = try await SlurmCommand.run(["squeue", "--me", "--all", "--json"], environment: access.environment, as: access.runAs)
            return try SlurmQueue.jobs(json: Data(answer.utf8))
        }
        let all = try SlurmQueue.jobs(json: try await send(.GET, SlurmREST.jobsPath, body: nil, rest: rest, app: app))
        return SlurmQueue.owned(all, by: rest.user)
    }

    /// Slurm's accounting records of these jobs (for a cluster whose slurmdbd keeps them), every run of each:
    /// `sacct` as the service account, asking for its jobs alone, or slurmrestd's slurmdb API, kept to this cluster's
    /// and the account's. A job the accounting has no record of yet is left out (slurmctld hands records to slurmdbd a
    /// moment after the job ends; a later look finds it). `unknown`: the jobs whose records could not be had this time
    /// (through slurmrestd, asked one by one: one that fails holds up only itself).
    static func accounting(_ ids: [Int], access: SlurmClusters.Access, app: Application) async throws -> (records: [SlurmJobRecord], unknown: Set<Int>) {
        guard !ids.isEmpty else { return ([], []) }
        guard let rest = access.rest else {
            let delimiter = SlurmAccounting.freshDelimiter()
            let answer = try await SlurmCommand.run(SlurmAccounting.sacctArguments(jobs: ids, user: access.owner?.name, delimiter: delimiter),
                                                    environment: access.environment.merging(SlurmAccounting.environment) { $1 }, as: access.runAs)
            return (SlurmAccounting.records(sacct: answer, delimiter: delimiter), [])
        }
        var records: [SlurmJobRecord] = [], unknown = Set<Int>()
        for id in ids {
            do {
                records += try SlurmAccounting.records(json: try await send(.GET, SlurmAccounting.restPath(id), body: nil, rest: rest, app: app),
                                                       cluster: access.clusterName, user: rest.user)
            } catch let failure as SlurmCommandFailure where failure.output.contains("Nothing found") {
                continue
            } catch {
                app.logger.warning("slurmrestd: the accounting record of job \(id): \(String(describing: error)); asked again next time")
                unknown.insert(id)
            }
        }
        if unknown.count == ids.count { throw SlurmCommandFailure(command: "slurmrestd slurmdb", status: nil, output: "no record could be read") }
        return (records, unknown)
    }

    /// Asks the scheduler to stop these jobs.
    static func cancel(_ ids: [Int], access: SlurmClusters.Access, app: Application) async throws {
        guard !ids.isEmpty else { return }
        guard let rest = access.rest else {
            try await SlurmCommand.run(["scancel"] + ids.map(String.init), environment: access.environment, as: access.runAs)
            return
        }
        for id in ids { _ = try await send(.DELETE, SlurmREST.jobPath(id), body: nil, rest: rest, app: app) }
    }

    /// Asks the scheduler to stop the account's jobs called `name`.
    static func cancel(named name: String, access: SlurmClusters.Access, app: Application) async throws {
        guard access.rest != nil else {
            try await SlurmCommand.run(["scancel", "--name", name], environment: access.environment, as: access.runAs)
            return
        }
        try await cancel(try await queue(access: access, app: app).filter { $0.name == name && !$0.state.hasEnded }.map(\.jobID), access: access, app: app)
    }

    /// One request to slurmrestd as the service account; the answer's body. Slurm's errors (and any status but 200)
    /// are thrown, with what slurmrestd said.
    private static func send(_ method: HTTPMethod, _ path: String, body: Data?, rest: SlurmClusters.Access.REST, app: Application) async throws -> Data {
        var request = HTTPClientRequest(url: rest.url.trimmingSuffix("/") + path)
        request.method = method
        request.headers.add(name: "X-SLURM-USER-NAME", value: rest.user)
        request.headers.add(name: "X-SLURM-USER-TOKEN", value: rest.token)
        request.headers.add(name: .accept, value: "application/json")
        if let body {
            request.headers.add(name: .contentType, value: "application/json")
            request.body = .bytes(ByteBuffer(data: body))
        }
        let command = "slurmrestd \(method.rawValue) \(path)"
        let answer: Data
        let status: HTTPResponseStatus
        do {
            let response = try await app.http.client.shared.execute(request, timeout: timeout)
            status = response.status
            answer = Data(buffer: try await response.body.collect(upTo: largestAnswer))
        } catch {
            throw SlurmCommandFailure(command: command, status: nil, output: "\(error)")
        }
        let errors = SlurmREST.errors(answer)
        guard status == .ok, errors.isEmpty else {
            let said = errors.joined(separator: "; ").nonEmpty ?? String(decoding: answer.prefix(300), as: UTF8.self)
            throw SlurmCommandFailure(command: command, status: Int32(status.code), output: said)
        }
        return answer
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}
