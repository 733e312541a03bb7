import Execution
import PoolCore
import Storage

/// The pool's nodes and instances as registered, with the ledger that keeps them valid at
/// every moment, executions included: before a driver acts, the ledger holds the larger of the
/// instance's old and new allocation, so no node is over capacity while the driver works, and
/// the record follows only what the driver confirmed.
struct PoolRegistry {
    private(set) var nodes: [NodeRecord] = []
    private(set) var records: [String: InstanceRecord] = [:]
    private(set) var ledger: AllocationLedger

    /// An empty pool.
    init() { ledger = try! AllocationLedger(nodes: [], instances: []) }

    init(nodes: [NodeRecord], instances: [InstanceRecord]) throws {
        self.nodes = nodes.sorted { $0.id < $1.id }
        ledger = try AllocationLedger(nodes: self.nodes.map(Self.node), instances: instances.sorted { $0.id < $1.id }.map(Self.instance))
        for record in instances { records[record.id] = record }
    }

    static func node(_ record: NodeRecord) -> Node {
        Node(id: NodeID(record.id), capacity: vector(record.capacity), reserve: vector(record.reserve))
    }

    static func instance(_ record: InstanceRecord) -> Instance {
        Instance(id: InstanceID(record.id), node: NodeID(record.node), allocation: vector(record.allocation),
                 sla: SLA(minimum: vector(record.minimum), maximum: vector(record.maximum), weight: record.weight))
    }

    func instance(_ id: String) -> InstanceRecord? { records[id] }
    func node(_ id: String) -> NodeRecord? { nodes.first { $0.id == id } }

    // MARK: Registration

    /// Registers or updates a node; refused if its instances would no longer fit.
    mutating func upsert(node: NodeRecord) throws {
        do { try ledger.upsert(node: Self.node(node)) } catch { throw APIFailure.unprocessable("\(error)") }
        nodes.removeAll { $0.id == node.id }
        nodes.append(node)
        nodes.sort { $0.id < $1.id }
    }

    /// Registers or updates an instance; refused if it breaks an invariant of the pool.
    mutating func upsert(instance: InstanceRecord) throws {
        do { try ledger.upsert(instance: Self.instance(instance)) } catch { throw APIFailure.unprocessable("\(error)") }
        records[instance.id] = instance
    }

    // MARK: Execution

    /// Holds what `action` needs before the driver performs it: for a resize the larger of its
    /// old and new allocation, for a migration the instance on its target node.
    mutating func reserve(_ action: DriverAction) throws(ExecutionRefusal) {
        let id = action.instance
        let instance: Instance
        do { instance = try ledger.instance(id) } catch { throw ExecutionRefusal("\(error)") }
        switch action {
        case .resize(_, let from, let to):
            guard instance.allocation == from else {
                throw ExecutionRefusal("the ledger holds \(instance.allocation) for \(id), not the \(from) the action starts from")
            }
            try change(id, allocation: ResourceVector.maximum(from, to))
        case .migrate(_, let from, let to):
            guard instance.node == from else { throw ExecutionRefusal("\(id) is on \(instance.node), not \(from)") }
            try change(id, node: to)
        }
    }

    /// The ledger takes the state the driver left after `action` (reserved before); returns
    /// the instance's record as it now is, to store.
    mutating func settle(_ action: DriverAction, outcome: ActionOutcome) -> InstanceRecord? {
        let id = action.instance
        switch (action, outcome) {
        case (_, .refused):
            break
        case (.resize(_, _, let to), .done):
            try? change(id, allocation: to)
        case (.resize(_, let from, _), .failed(_, let actual)):
            // The driver left `actual` in effect; within the reservation it fits.
            if let actual, actual.isFinite, (try? change(id, allocation: actual)) != nil { break }
            try? change(id, allocation: from)
        case (.migrate(_, let from, _), .failed):
            try? change(id, node: from)
        case (.migrate, .done):
            break
        }
        return records[id.rawValue]
    }

    /// Sets an instance to what the driver reads (recovery): refused when it breaks the ledger.
    mutating func adopt(_ id: InstanceID, allocation: ResourceVector?, node: NodeID?) throws(ExecutionRefusal) -> InstanceRecord? {
        if let node, node != (try? ledger.instance(id))?.node { try change(id, node: node) }
        if let allocation { try change(id, allocation: allocation) }
        return records[id.rawValue]
    }

    private mutating func change(_ id: InstanceID, allocation: ResourceVector? = nil, node: NodeID? = nil) throws(ExecutionRefusal) {
        do {
            let index = try ledger.index(of: id)
            if let allocation { try ledger.resize(instanceAt: index, to: allocation) }
            if let node { try ledger.migrate(instanceAt: index, toNodeAt: try ledger.index(of: node)) }
            let instance = ledger.instances[index]
            records[id.rawValue]?.allocation = values(instance.allocation)
            records[id.rawValue]?.node = instance.node.rawValue
        } catch {
            throw ExecutionRefusal("\(error)")
        }
    }
}

func vector(_ values: [Double]) -> ResourceVector { ResourceVector(cpu: values[0], memory: values[1], gpu: values[2]) }
func values(_ vector: ResourceVector) -> [Double] { [vector.cpu, vector.memory, vector.gpu] }
