// swift-tools-version:6.0
// CampusCloud: one binary for a university–industry cloud and AI programme.
// Layout follows ../shared/STYLE.md: a thin executable, the Vapor `App` library, and leaf libraries without Vapor.
import PackageDescription

let package = Package(
    name: "campuscloud",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "campuscloud", targets: ["campuscloud"]),
        .executable(name: "campuscloud-lane", targets: ["campuscloud-lane"]),
    ],
    dependencies: [
        .package(url: "https://github.com/vapor/vapor.git", from: "4.115.0"),
        .package(url: "https://github.com/vapor/fluent.git", from: "4.12.0"),
        .package(url: "https://github.com/vapor/fluent-sqlite-driver.git", from: "4.8.0"),
        .package(url: "https://github.com/vapor/fluent-postgres-driver.git", from: "2.10.0"),
        .package(url: "https://github.com/vapor/leaf.git", from: "4.4.0"),
        .package(url: "https://github.com/vapor/leaf-kit.git", from: "1.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/swiftcsv/SwiftCSV.git", from: "0.10.0"),
        .package(url: "https://github.com/x-sheep/swift-property-based.git", from: "2.0.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation.git", from: "0.9.19"),
        .package(url: "https://github.com/JohnSundell/Ink.git", from: "0.6.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.0.0"),
    ],
    targets: [
        .executableTarget(
            name: "campuscloud",
            dependencies: [
                .target(name: "App"),
            ]
        ),
        .target(
            name: "App",
            dependencies: [
                .target(name: "Sandbox"),
                .target(name: "Ledger"),
                .target(name: "Grading"),
                .target(name: "Gateway"),
                .target(name: "Labs"),
                .target(name: "Identity"),
                .target(name: "Insight"),
                .target(name: "Similarity"),
                .target(name: "Slurm"),
                .product(name: "Vapor", package: "vapor"),
                .product(name: "Ink", package: "Ink"),
                .product(name: "Fluent", package: "fluent"),
                .product(name: "FluentSQLiteDriver", package: "fluent-sqlite-driver"),
                .product(name: "FluentPostgresDriver", package: "fluent-postgres-driver"),
                .product(name: "Leaf", package: "leaf"),
                .product(name: "LeafKit", package: "leaf-kit"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "SwiftCSV", package: "SwiftCSV"),
            ],
            resources: [.copy("Resources")]
        ),
        // Runs untrusted code under bubblewrap. No Vapor: plain values in, a typed result out.
        .target(
            name: "Sandbox",
            dependencies: [.target(name: "CSandboxSpawn"), .target(name: "CSeccomp")]
        ),
        // The system-call filter every job runs under, built with libseccomp (Debian: libseccomp-dev) as a BPF
        // program for bwrap's --seccomp. Only Sandbox links it (not the static lane program).
        .target(name: "CSeccomp", linkerSettings: [.linkedLibrary("seccomp")]),
        // The AI gateway's rules: OpenAI request reading, policy, rate windows, stream usage, errors. No Vapor.
        .target(name: "Gateway"),
        // Autograder formats (Gradescope results.json, Classroom autograding.json), visibility, late policy. No Vapor.
        .target(name: "Grading", dependencies: [.product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // Interactive labs' rules: kinds, audiences, session limits, weekly schedules. No Vapor.
        .target(name: "Labs", dependencies: [.target(name: "Ledger")]),
        // Signing in through others (OpenID Connect providers, LMSs by LTI 1.3): id_token rules, key sets, PKCE, LTI
        // launch claims and roles. No Vapor; JWTKit checks signatures.
        .target(
            name: "Identity",
            dependencies: [
                .product(name: "JWTKit", package: "jwt-kit"), .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        // What the insight pages compute and draw: natural order of names, medians and histograms, SVG charts. No Vapor.
        .target(name: "Insight"),
        // Code similarity between hand-ins: tokenisers (Python, C/C++, Java, JavaScript), winnowed fingerprints, pairs,
        // shared passages. No Vapor.
        .target(name: "Similarity"),
        // The credits ledger's rules: amounts, prices, holds, the allocation tree. No Vapor, no database.
        .target(name: "Ledger"),
        // Research jobs on a Slurm cluster: what the scheduler says about a job (its state, resources, usage, from its own
        // records), the sbatch request, the job's staging folder, and running the Slurm commands. No Vapor, no database.
        .target(name: "Slurm"),
        // The few steps between fork and exec (cgroups, rlimits, dropping to the job's uid) that Swift cannot do safely.
        .target(name: "CSandboxSpawn"),
        // The first process of a lane (a sandbox kept for many jobs, see Sandbox/LanePool.swift). It runs inside the
        // sandbox, where the Swift runtime is not visible: plain C, linked statically, installed beside campuscloud.
        .executableTarget(
            name: "campuscloud-lane",
            dependencies: [.target(name: "CSandboxSpawn")],
            linkerSettings: [.unsafeFlags(["-static-executable"])]
        ),
        // bench/sandbox: the sandbox's cost next to bare and minimal-bwrap runs.
        .executableTarget(
            name: "SandboxBench",
            dependencies: [.target(name: "Sandbox"), .target(name: "CSandboxSpawn")],
            path: "Benchmarks/SandboxBench"
        ),
        .testTarget(
            name: "SandboxTests",
            dependencies: [.target(name: "Sandbox")],
            resources: [.copy("hostile")]
        ),
        .testTarget(
            name: "GradingTests",
            dependencies: [.target(name: "Grading"), .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        .testTarget(
            name: "LedgerTests",
            dependencies: [.target(name: "Ledger"), .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(name: "GatewayTests", dependencies: [.target(name: "Gateway")]),
        .testTarget(
            name: "IdentityTests",
            dependencies: [
                .target(name: "Identity"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ]
        ),
        .testTarget(name: "InsightTests", dependencies: [.target(name: "Insight")]),
        .testTarget(name: "SimilarityTests", dependencies: [.target(name: "Similarity")], resources: [.copy("Corpus")]),
        .testTarget(name: "LabsTests", dependencies: [.target(name: "Labs"), .target(name: "Ledger")]),
        .testTarget(name: "SlurmTests", dependencies: [.target(name: "Slurm"), .target(name: "Sandbox")], resources: [.copy("Samples")]),
        .testTarget(
            name: "AppTests",
            dependencies: [
                .target(name: "App"),
                .target(name: "Grading"),
                .target(name: "Gateway"),
                .target(name: "Labs"),
                .target(name: "Sandbox"),
                .target(name: "Identity"),
                .target(name: "Insight"),
                .target(name: "Slurm"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "VaporTesting", package: "vapor"),
                .product(name: "FluentPostgresDriver", package: "fluent-postgres-driver"),
                .product(name: "PropertyBased", package: "swift-property-based"),
            ]
        ),
    ],
    swiftLanguageModes: [.v6]
)
