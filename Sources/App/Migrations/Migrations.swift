// The ordered list of migrations. Append only: a released migration is never edited or reordered;
// change the schema with a new migration in its own file (see docs/ARCHITECTURE.md).
import Fluent
import Vapor

enum Migrations {
    static let all: [any Migration] = [
        CreateUser(),
        CreateProgramme(),
        CreateCourse(),
        CreateResearchProject(),
        CreateProgrammeMember(),
        CreateCourseMember(),
        CreateProjectMember(),
        CreatePlatformSetting(),
        CreateAPIKey(),
        CreateSessionRecord(),
        CreatePasswordLink(),
        CreateLedgerAccount(),
        CreateLedgerHold(),
        CreateLedgerEntry(),
        CreateLedgerPrice(),
        CreateLedgerHoldTriggers(),
        CreateNotice(),
        CreateQueuedJob(),
        CreateAssignment(),
        CreateSubmission(),
        CreateSubmissionFile(),
        CreateGradeAdjustment(),
        CreateAIProvider(),
        CreateAIModel(),
        CreateAIKey(),
        CreateAIPolicy(),
        CreateAIUsage(),
        CreateProjectStatusChange(),
        CreateAllocationRequest(),
        AddProjectDetails(),
        CreateResearchJob(),
        CreateResearchJobFile(),
        CreateProjectOutput(),
        AddLedgerHoldOrigin(),
        AddLedgerAccountDebt(),
        AddUserCredentialsChangedAt(),
        AddProjectJobNetwork(),
        AddAssignmentSetupDisk(),
        CreateLabEnvironment(),
        CreateLabSession(),
        CreateLabStartFiles(),
        AddLabReadySessions(),
        CreateLabHosts(),
        AddLabUsageMeters(),
        CreateLabTicketUses(),
        CreateIdentityProvider(),
        CreateExternalIdentity(),
        CreateSSOSignIn(),
        CreateLTIRegistration(),
        CreateLTIDeployment(),
        CreateLTILaunchState(),
        CreateLTIContext(),
        CreateLTIToolKey(),
        CreateLTIDeepLinkRequest(),
        CreateLTIResourceLink(),
        CreateLTIScorePost(),
    ]

    static func register(on app: Application) {
        app.migrations.add(all)
    }
}
