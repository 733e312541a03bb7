// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "Poolswap",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "poolswap", targets: ["poolswap"]),
    ],
    traits: [
        .trait(name: "Cbc", description: "Cross-check the swap solver against COIN-OR Cbc (needs Debian's coinor-libcbc-dev)."),
        .trait(name: "Postgres", description: "The PostgreSQL store (PostgresNIO), for larger deployments."),
        .trait(name: "OpenBLAS", description: "The networks' matrix products through OpenBLAS (needs Debian's libopenblas-dev)."),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .target(name: "PoolCore"),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Drivers", dependencies: ["PoolCore", "CZlib"]),
        .systemLibrary(name: "COpenBLAS", providers: [.apt(["libopenblas-dev"])]),
        .target(name: "Forecasting", dependencies: ["PoolCore", .target(name: "COpenBLAS", condition: .when(traits: ["OpenBLAS"]))]),
        .target(name: "Simulation", dependencies: ["PoolCore"]),
        .target(name: "Execution", dependencies: ["PoolCore", "Drivers"]),
        .systemLibrary(name: "CCbc", providers: [.apt(["coinor-libcbc-dev"])]),
        .target(name: "SwapSolver", dependencies: ["PoolCore", .target(name: "CCbc", condition: .when(traits: ["Cbc"]))]),
        .systemLibrary(name: "CCrypto", providers: [.apt(["libssl-dev"])]),
        .target(
            name: "Storage",
            dependencies: [
                "PoolCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Postgres"])),
            ]
        ),
        .target(
            name: "Service",
            dependencies: [
                "PoolCore", "Forecasting", "SwapSolver", "Drivers", "Execution", "Storage", "Simulation", "CCrypto",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        .executableTarget(
            name: "poolswap",
            dependencies: [
                "PoolCore", "Drivers", "Forecasting", "Simulation", "SwapSolver", "Service",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "PoolCoreTests",
            dependencies: ["PoolCore", .product(name: "PropertyBased", package: "swift-property-based")]
        ),
        .testTarget(
            name: "DriversTests",
            dependencies: ["Drivers", "PoolCore", "CZlib"]
        ),
        .testTarget(
            name: "ForecastingTests",
            dependencies: ["Forecasting", "PoolCore", "Drivers"]
        ),
        .testTarget(
            name: "SwapSolverTests",
            dependencies: ["SwapSolver", "PoolCore"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "StorageTests",
            dependencies: [
                "Storage", "PoolCore", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio", condition: .when(traits: ["Postgres"])),
            ]
        ),
        .testTarget(
            name: "ServiceTests",
            dependencies: [
                "Service", "Storage", "PoolCore", "Drivers", "Execution",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "ExecutionTests",
            dependencies: ["Execution", "Drivers", "PoolCore"]
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: ["Simulation", "Drivers", "PoolCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
