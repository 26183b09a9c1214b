// What the template of the Slurm clusters page is given: each cluster with its settings as an edit form, and the
// add-a-cluster form. Both forms are the same fields (`SlurmClusterForm.fields`), drawn by one loop in the template.
import Foundation
import Slurm

struct AdminSlurmPage: Encodable {
    var title = "Slurm clusters"
    var page: PageContext
    var clusters: [Row]
    var add = SitePath.adminSlurmClusters.url
    /// The add form's fields, as sent when it is shown again with its problems.
    var fields: [SlurmClusterForm.Field]

    struct Row: Encodable {
        var cluster: SlurmClusterDTO
        var fields: [SlurmClusterForm.Field]
        var change: String
        var remove: String
        /// Open when it is the form just sent and refused.
        var open: Bool
    }

    /// `sent`: the form as sent, shown again (for a cluster's edit form when `editing` is its id; else the add form).
    init(page: PageContext, clusters: [SlurmClusterDTO], sent: SlurmClusterForm = SlurmClusterForm(), editing: UUID? = nil) {
        self.page = page
        self.clusters = clusters.map { cluster in
            let edited = cluster.id == editing
            return Row(cluster: cluster, fields: (edited ? sent : SlurmClusterForm(cluster)).fields(prefix: "c\(cluster.id.uuidString.prefix(8))-"),
                       change: SitePath.adminSlurmCluster(.id(cluster.id)).url, remove: SitePath.removeAdminSlurmCluster(.id(cluster.id)).url, open: edited)
        }
        fields = (editing == nil ? sent : SlurmClusterForm()).fields(prefix: "s-")
    }
}

/// The add-a-cluster (or change-a-cluster) form: text fields as a browser sends them (numbers are read by
/// `SlurmClusterForm.input`).
struct SlurmClusterForm: Codable, Sendable {
    var name = "", slurmConf = "", partition = "", account = "", serviceAccount = "", stagingFolder = "", completionLog = "", timeZone = ""
    var maxCores = "", maxMemoryMB = "", maxGPUs = "0", maxMinutes = "", pollSeconds = "5"
    var sandbox = SlurmSandbox.Mode.required.rawValue
    var restURL = "", restTokenVariable = ""

    init() {}

    /// A registered cluster's settings, to change.
    init(_ cluster: SlurmClusterDTO) {
        (name, slurmConf, partition, account) = (cluster.name, cluster.slurmConf ?? "", cluster.partition, cluster.account ?? "")
        (serviceAccount, stagingFolder, completionLog, timeZone) = (cluster.serviceAccount ?? "", cluster.stagingFolder, cluster.completionLog ?? "", cluster.timeZone)
        (maxCores, maxMemoryMB, maxGPUs) = (String(cluster.maxCores), String(cluster.maxMemoryMB), String(cluster.maxGPUs))
        (maxMinutes, pollSeconds, sandbox) = (String(cluster.maxMinutes), String(cluster.pollSeconds), cluster.sandbox)
        (restURL, restTokenVariable) = (cluster.rest?.url ?? "", cluster.rest?.tokenVariable ?? "")
    }

    /// A field left out of the form is empty (or its default).
    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        func text(_ key: CodingKeys, _ fallback: String = "") throws -> String { try container.decodeIfPresent(String.self, forKey: key) ?? fallback }
        (name, slurmConf, partition, account) = (try text(.name), try text(.slurmConf), try text(.partition), try text(.account))
        (serviceAccount, stagingFolder, completionLog) = (try text(.serviceAccount), try text(.stagingFolder), try text(.completionLog))
        timeZone = try text(.timeZone)
        (maxCores, maxMemoryMB, maxGPUs) = (try text(.maxCores), try text(.maxMemoryMB), try text(.maxGPUs, "0"))
        (maxMinutes, pollSeconds) = (try text(.maxMinutes), try text(.pollSeconds, "5"))
        sandbox = try text(.sandbox, SlurmSandbox.Mode.required.rawValue)
        (restURL, restTokenVariable) = (try text(.restURL), try text(.restTokenVariable))
    }

    /// The same as the API's input; a field that is not a whole number is a problem of its own. The two slurmrestd
    /// fields are the input's `rest` when either is filled in (both empty: the Slurm commands).
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
                                      maxMinutes: number(maxMinutes, "maxMinutes"), pollSeconds: number(pollSeconds, "pollSeconds"),
                                      sandbox: sandbox,
                                      rest: (restURL + restTokenVariable).trimmingCharacters(in: .whitespaces).isEmpty ? nil
                                          : SlurmRESTSettings(url: restURL, tokenVariable: restTokenVariable))
        if !problems.isEmpty { throw InputRejection(problems) }
        return input
    }

    /// One field of the form as the template draws it.
    struct Field: Encodable {
        var id: String
        var name: String
        var label: String
        var value: String
        var type = "text"
        var required = false
        var placeholder = ""
        /// A number's bounds ("" for none).
        var min = ""
        var max = ""
        /// A select's choices (value, label, chosen).
        var options: [Option] = []
        struct Option: Encodable { var value: String, label: String, selected: Bool }
    }

    func fields(prefix: String) -> [Field] {
        func field(_ name: String, _ label: String, _ value: String, type: String = "text", required: Bool = false, placeholder: String = "",
                   min: Int? = nil, max: Int? = nil) -> Field {
            Field(id: prefix + name, name: name, label: label, value: value, type: type, required: required, placeholder: placeholder,
                  min: min.map(String.init) ?? "", max: max.map(String.init) ?? "")
        }
        let choices: [(SlurmSandbox.Mode, String)] = [
            (.required, "required (a node that cannot give it ends the job before its command runs)"),
            (.whenAvailable, "when the node can give it (otherwise Slurm's limits alone, said in the job's log)"),
            (.off, "off (Slurm's limits alone)"),
        ]
        var sandboxField = field("sandbox", "The platform's sandbox around each job on the node (bwrap: the job sees only its own folder, not other jobs', the spool or munge)", sandbox)
        sandboxField.type = "select"
        sandboxField.options = choices.map { Field.Option(value: $0.0.rawValue, label: $0.1, selected: $0.0.rawValue == sandbox) }
        return [
            field("name", "Name", name, required: true),
            field("slurmConf", "Its slurm.conf on this host (optional: the host's default)", slurmConf, placeholder: "/etc/slurm/slurm.conf"),
            field("partition", "Partition", partition, required: true),
            field("account", "Slurm account (optional)", account),
            field("serviceAccount", "Service account: the host user jobs run as (never root)", serviceAccount, placeholder: "campuscloud-jobs"),
            field("stagingFolder", "Staging folder on the cluster's shared filesystem", stagingFolder, required: true, placeholder: "/shared/campuscloud"),
            field("completionLog", "Job completion log (JobCompLoc; leave empty when the cluster keeps accounting with slurmdbd: sacct is read then)",
                  completionLog, placeholder: "/var/log/slurm/jobcomp.log"),
            field("restURL", "slurmrestd's address, to reach the cluster through its REST API (optional: the Slurm commands on this host)", restURL,
                  placeholder: "https://slurm.example.edu:6820"),
            field("restTokenVariable", "With it: the environment variable holding the service account's JWT", restTokenVariable,
                  placeholder: "CAMPUSCLOUD_SLURM_JWT"),
            field("timeZone", "Time zone of the cluster's controller (optional: this host's)", timeZone, placeholder: "Europe/Zurich"),
            field("maxCores", "Most cores a job may ask for", maxCores, type: "number", required: true, min: 1),
            field("maxMemoryMB", "Most memory (MB)", maxMemoryMB, type: "number", required: true, min: 64),
            field("maxGPUs", "Most GPUs", maxGPUs, type: "number", min: 0),
            field("maxMinutes", "Longest time limit (minutes)", maxMinutes, type: "number", required: true, min: 1),
            field("pollSeconds", "Ask the scheduler every (seconds)", pollSeconds, type: "number", min: 1, max: 300),
            sandboxField,
        ]
    }
}
