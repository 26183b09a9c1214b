// What the templates of a programme's page are given (their view-models; links come from SitePath).
import Foundation
import Vapor

struct ProgrammePage: Encodable {
    var title: String
    var page: PageContext
    var programme: ProgrammeDTO
    var members: [MemberDTO]
    var canManage: Bool
    var form: ProgrammeInput
    var roles = ProgrammeRole.allCases.map(\.rawValue)
    var projectStatuses = ProjectStatus.allCases.map(\.rawValue)
}
