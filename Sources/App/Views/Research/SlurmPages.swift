// What the template of the Slurm clusters page is given.
import Foundation

struct AdminSlurmPage: Encodable {
    var title = "Slurm clusters"
    var page: PageContext
    var clusters: [SlurmClusterDTO]
    var add = SitePath.adminSlurmClusters.url
    /// The form as sent, shown again with its problems.
    var form: SlurmClusterForm
}

/// The add-a-cluster form: text fields as a browser sends them (numbers are read by `SlurmClusterForm.input`).
struct SlurmClusterForm: Codable, Sendable {
    var name = "", slurmConf = "", partition = "", account = "", serviceAccount = "", stagingFolder = "", completionLog = "", timeZone = ""
    var maxCores = "", maxMemoryMB = "", maxGPUs = "0", maxMinutes = "", pollSeconds = "5"

    init() {}

    /// A field left out of the form is empty (or its default).
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func text(_ key: CodingKeys, _ fallback: String = "") throws -> String { try container.decodeIfPresent(String.self, forKey: key) ?? fallback }
        (name, slurmConf, partition, account) = (try text(.name), try text(.slurmConf), try text(.partition), try text(.account))
        (serviceAccount, stagingFolder, completionLog) = (try text(.serviceAccount), try text(.stagingFolder), try text(.completionLog))
        timeZone = try text(.timeZone)
        (maxCores, maxMemoryMB, maxGPUs) = (try text(.maxCores), try text(.maxMemoryMB), try text(.maxGPUs, "0"))
        (maxMinutes, pollSeconds) = (try text(.maxMinutes), try text(.pollSeconds, "5"))
    }

    /// The same as the API's input; a field that is not a whole number is a problem of its own.
    func input() throws -> SlurmClusterInput {
        var problems: [String] = []
        func number(_ text: String, _ label: String) -> Int? {
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty else { return nil }
            guard let value = Int(trimmed) else { problems.append("\(label) is a whole number."); return nil }
            return value
        }
        let input = SlurmClusterInput(name: name, slurmConf: slurmConf, partition: partition, account: account, serviceAccount: serviceAccount,
                                      stagingFolder: stagingFolder, completionLog: completionLog, timeZone: timeZone, maxCores: number(maxCores, "maxCores"),
                                      maxMemoryMB: number(maxMemoryMB, "maxMemoryMB"), maxGPUs: number(maxGPUs, "maxGPUs"),
                                      maxMinutes: number(maxMinutes, "maxMinutes"), pollSeconds: number(pollSeconds, "pollSeconds"))
        if !problems.isEmpty { throw InputRejection(problems) }
        return input
    }
}
