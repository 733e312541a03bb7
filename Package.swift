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
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/x-sheep/swift-property-based", from: "2.0.1"),
    ],
    targets: [
        .target(name: "PoolCore"),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "Drivers", dependencies: ["PoolCore", "CZlib"]),
        .target(name: "Forecasting", dependencies: ["PoolCore"]),
        .target(name: "Simulation", dependencies: ["PoolCore"]),
        .systemLibrary(name: "CCbc", providers: [.apt(["coinor-libcbc-dev"])]),
        .target(name: "SwapSolver", dependencies: [.target(name: "CCbc", condition: .when(traits: ["Cbc"]))]),
        .executableTarget(
            name: "poolswap",
            dependencies: [
                "PoolCore", "Drivers", "Forecasting", "Simulation", "SwapSolver",
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
            dependencies: ["Forecasting", "PoolCore"]
        ),
        .testTarget(
            name: "SwapSolverTests",
            dependencies: ["SwapSolver", "PoolCore"],
            exclude: ["Fixtures"]
        ),
        .testTarget(
            name: "SimulationTests",
            dependencies: ["Simulation", "Drivers", "PoolCore"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
