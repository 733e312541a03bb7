@testable import Drivers
import PoolCore
import Testing

/// One test per quirk listed in the Bitbrains data README.
@Suite struct BitbrainsQuirkTests {
    let t0 = 1_372_629_804

    func read(_ files: TraceFiles, lenient: Bool = false) throws -> (UsageTrace, TraceLoadReport) {
        try BitbrainsTraceReader(lenient: lenient).read(folder: files.root)
    }

    @Test func quirk1_timestampsAreSecondsDespiteTheHeader() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0), row(t0 + 300)]))
        let (trace, _) = try read(files)
        // Slots lie on the absolute 300 s grid: the first sample's slot starts 204 s before it.
        #expect(trace.origin == Int64(t0 - t0 % 300))
        #expect(t0 % 300 == 204)
        #expect(trace.instances[0].span == 2)
        // A file really in milliseconds reads the same.
        let milliseconds = TraceFiles()
        milliseconds.write("2013-7/1.csv", bitbrains([row(t0 * 1000), row((t0 + 300) * 1000)]))
        let (same, _) = try read(milliseconds)
        #expect(same.origin == Int64(t0 - t0 % 300))
        #expect(same.instances[0].span == 2)
    }

    @Test func quirk2_monthFilesOfOneIdAreOneVMWithAGapBetween() throws {
        let files = TraceFiles()
        files.write("2013-7/7.csv.gz", bitbrains([row(t0), row(t0 + 300)]))
        files.write("2013-8/7.csv.gz", bitbrains([row(t0 + 86_400 + 300), row(t0 + 86_400 + 600)]))
        let (trace, report) = try read(files)
        #expect(trace.instances.map(\.id) == ["7"])
        #expect(report.files == 2)
        let series = trace.instances[0]
        #expect(series.span == 288 + 3)
        #expect(series.sampleCount == 4)
        #expect(!series.isPresent(at: 2))
        #expect(series.isPresent(at: 289))
    }

    @Test func monthFoldersAreOrderedByNumberNotText() throws {
        let files = TraceFiles()
        files.write("2013-9/1.csv", bitbrains([row(t0)]))
        files.write("2013-10/1.csv", bitbrains([row(t0 + 600)]))
        let (trace, _) = try read(files)
        #expect(trace.instances[0].sampleCount == 2)
    }

    @Test func quirk3_commonOutagesStayGapsAcrossVMs() throws {
        let files = TraceFiles()
        for vm in [1, 2] {
            files.write("2013-7/\(vm).csv.gz", bitbrains([row(t0), row(t0 + 300), row(t0 + 3_600), row(t0 + 3_900)]))
        }
        let (trace, _) = try read(files)
        for series in trace.instances {
            #expect(series.isPresent(at: 1))
            #expect((2..<12).allSatisfy { !series.isPresent(at: $0) })
            #expect(series.isPresent(at: 12))
            #expect(series.used(at: 12).cpu == 0.5)
        }
    }

    @Test func quirk4_lateStartersBeginAtTheirOwnSlot() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0), row(t0 + 300)]))
        files.write("2013-7/2.csv.gz", bitbrains([row(t0 + 3_000), row(t0 + 3_300)]))
        let (trace, _) = try read(files)
        #expect(trace.instances.map(\.firstSlot) == [0, 10])
        #expect(trace.slotCount == 12)
    }

    @Test func quirk5_duplicateTimestampRowsKeepTheFirst() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0), row(t0 + 300, cpuMHz: "500"), row(t0 + 300, cores: 0, cpuMHz: "0"), row(t0 + 300, cpuMHz: "900"), row(t0 + 600)]))
        let (trace, report) = try read(files)
        #expect(report.duplicateTimestampRows == 2)
        #expect(trace.instances[0].used(at: 1).cpu == 0.25)
        #expect(trace.instances[0].sampleCount == 3)
    }

    @Test func quirk5_aDuplicateWithCoresReplacesAZeroCoreFirstRow() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0), row(t0 + 300, cores: 0, cpuMHz: "0"), row(t0 + 300, cpuMHz: "700"), row(t0 + 300, cpuMHz: "900")]))
        let (trace, report) = try read(files)
        #expect(report.duplicateTimestampRows == 2)
        #expect(trace.instances[0].used(at: 1).cpu == 0.35)
    }

    @Test func quirk6_zeroCoreRowsAreAVMSwitchedOffNotAnAllocationOfZero() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0), row(t0 + 300, cores: 0, cpuMHz: "0", memoryKB: "0", memoryUsedKB: "0"), row(t0 + 600)]))
        let (trace, report) = try read(files)
        #expect(report.switchedOffRows == 1)
        #expect(!trace.instances[0].isPresent(at: 1))
        #expect(trace.instances[0].allocated(at: 2).cpu == 2)
    }

    /// PSF-1 rule 5: a zero capacity while the VM has cores leaves what it makes unknown
    /// missing (cpu usage in cores; the memory allocation) and keeps the rest of the row.
    @Test func aZeroCapacityWithCoresKeepsTheRowAndLeavesItsUnknownsMissing() throws {
        let files = TraceFiles()
        var noCPUCapacity = row(t0 + 300, memoryUsedKB: "2097152")
        noCPUCapacity[2] = "0"
        files.write("2013-7/1.csv.gz", bitbrains([row(t0), noCPUCapacity, row(t0 + 600, memoryKB: "0", memoryUsedKB: "3145728"), row(t0 + 900)]))
        let (trace, report) = try read(files)
        #expect(report.zeroCapacityRows == 2)
        let series = trace.instances[0]
        #expect(series.sampleCount == 4)
        #expect(series.isPresent(at: 1) && series.isPresent(at: 2))
        #expect(series.used(.cpu, at: 1).isNaN)
        #expect(series.used(.memory, at: 1) == 2)
        #expect(series.allocated(.cpu, at: 1) == 2)
        #expect(series.used(.cpu, at: 2) == 0.5)
        #expect(series.used(.memory, at: 2) == 3)
        #expect(series.allocated(.memory, at: 2).isNaN)
        #expect(series.allocated(.cpu, at: 2) == 2)
    }

    @Test func quirk7_zeroUsageIsARealSampleOfZero() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0, cpuMHz: "0", memoryUsedKB: "0"), row(t0 + 300, cpuMHz: "0.0")]))
        let (trace, _) = try read(files)
        #expect(trace.instances[0].sampleCount == 2)
        #expect(trace.instances[0].used(at: 0) == ResourceVector(cpu: 0, memory: 0))
        #expect(trace.instances[0].used(at: 1).cpu == 0)
    }

    @Test func quirk8_allocationChangesAreReadRowByRow() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0, cores: 4, memoryKB: "2097152"), row(t0 + 300, cores: 8, memoryKB: "1978965")]))
        let (trace, _) = try read(files)
        let series = trace.instances[0]
        #expect(series.allocated(at: 0) == ResourceVector(cpu: 4, memory: 2))
        #expect(series.allocated(at: 1) == ResourceVector(cpu: 8, memory: 1_978_965.0 / 1_048_576))
        // Usage in cores uses each row's own MHz per core: 1000 MHz of 2000 MHz cores.
        #expect(series.used(at: 0).cpu == 0.5)
        #expect(series.used(at: 1).cpu == 0.5)
    }

    @Test func quirk9_scientificNotationParsesExactly() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0, memoryKB: "1.6703488E7", memoryUsedKB: "2.5E-1")]))
        let (trace, _) = try read(files)
        #expect(trace.instances[0].allocated(at: 0).memory == 16_703_488.0 / 1_048_576)
        #expect(trace.instances[0].used(at: 0).memory == 0.25 / 1_048_576)
    }

    @Test func jitterOfASecondKeepsOneSamplePerSlot() throws {
        let files = TraceFiles()
        files.write("2013-7/1.csv.gz", bitbrains([row(t0), row(t0 + 301), row(t0 + 600), row(t0 + 899), row(t0 + 944)]))
        let (trace, report) = try read(files)
        #expect(trace.instances[0].sampleCount == 4)
        #expect(report.mergedSamples == 1)
    }

    @Test func plainAndGzipFilesReadTheSame() throws {
        let rows = (0..<50).map { row(t0 + 300 * $0, cpuMHz: String(Double($0) * 12.345)) }
        let plain = TraceFiles()
        plain.write("1.csv", bitbrains(rows))
        let gzip = TraceFiles()
        gzip.write("1.csv.gz", bitbrains(rows))
        let (a, _) = try read(plain)
        let (b, _) = try read(gzip)
        #expect(a.instances[0].used[0].elementsEqual(b.instances[0].used[0]))
        #expect(a.instances[0].sampleCount == 50)
    }
}
