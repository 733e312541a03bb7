import Drivers
import Foundation
import PoolCore
import Testing

@Suite struct BundledSampleTests {
    @Test func theBundledSampleReadsWithItsQuirks() throws {
        let (trace, report) = try BitbrainsTraceReader().read(folder: repositoryRoot + "/Data/bitbrains-sample")
        #expect(report.files == 40)
        #expect(report.skippedRows == 0)
        #expect(report.duplicateTimestampRows > 0)
        #expect(report.switchedOffRows > 0)
        // 20 VMs; one is switched off for the whole window and yields no samples.
        #expect(trace.instances.count == 19)
        #expect(trace.slotCount == 14 * 288)
        // VM 258 changes its core count inside the window.
        let vm258 = try #require(trace.instances.first { $0.id == "258" })
        let cores = Set(vm258.allocated[0].filter { !$0.isNaN })
        #expect(cores.count > 1)
        // VM 174 starts late.
        #expect(try #require(trace.instances.first { $0.id == "174" }).firstSlot > 288)
    }

    /// The first VMs of the 130-VM development set against its manifest (the whole set is
    /// checked by Benchmarks/simulate.sh in a release build; a debug build reads it slowly).
    @Test func theDevelopmentSetMatchesItsManifest() throws {
        let folder = repositoryRoot + "/../shared/data/bitbrains-rnd"
        guard FileManager.default.fileExists(atPath: folder + "/manifest.csv") else {
            print("skipped: \(folder) is absent; the full-set check runs where ../shared/data exists")
            return
        }
        let count = 12
        let manifest = try String(contentsOfFile: folder + "/manifest.csv", encoding: .utf8).split(separator: "\n").dropFirst().prefix(count).map { $0.split(separator: ",") }
        let (trace, report) = try BitbrainsTraceReader().read(folder: folder, instanceLimit: count)
        #expect(trace.instances.map(\.id.rawValue) == manifest.map { String($0[0]) })
        #expect(trace.instances.count == manifest.count)
        #expect(report.rows == manifest.reduce(0) { $0 + Int($1[4])! })
        #expect(report.duplicateTimestampRows == manifest.reduce(0) { $0 + Int($1[7])! })
        #expect(report.skippedRows == 0)
    }
}
