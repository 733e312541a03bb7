import Execution
import Foundation
import Hummingbird
import PoolCore
import Storage

/// The HTTP API. Handlers check the caller's role and tenant, validate their
/// input naming the field, and call the runtime or the store.
struct APIRoutes: Sendable {
    let runtime: PoolRuntime
    let store: any PoolStore
    let metrics: ServiceMetrics
    let loop: ControlLoop
    let training: NetworkTraining
    let openAPI: String

    func add(to router: Router<PoolRequestContext>) {
        router.get("/healthz") { _, _ in HealthView(status: "ok") }
        router.get("/readyz") { _, context -> HealthView in
            _ = try context.require(.read)
            _ = try await store.sampleCount()
            return HealthView(status: "ready")
        }
        router.get("/metrics") { _, context -> Response in
            _ = try context.require(.read)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: .init(byteBuffer: ByteBuffer(bytes: metrics.registry.emitToBuffer())))
        }
        router.get("/openapi.json") { _, context -> Response in
            _ = try context.require(.read)
            return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: openAPI)))
        }
        router.get("/nodes") { _, context -> NodeList in
            _ = try context.require(.read)
            return NodeList(nodes: await runtime.allNodes().map { NodeBody(id: $0.id, capacity: Amounts($0.capacity), reserve: Amounts($0.reserve)) })
        }
        router.post("/nodes") { request, context -> Response in
            let principal = try context.require(.administer)
            guard principal.tenant == nil else { throw APIFailure.forbidden("nodes are shared: a tenant's token cannot register them") }
            let body = try await request.decode(as: NodeBody.self, context: context)
            try Validate.id(body.id, "id")
            try Validate.amounts(body.capacity, "capacity")
            if let reserve = body.reserve { try Validate.amounts(reserve, "reserve") }
            try await runtime.register(node: NodeRecord(id: body.id, capacity: body.capacity.values, reserve: body.reserve?.values ?? [0, 0, 0]))
            return try Self.json(body, status: .created)
        }
        router.get("/instances") { _, context -> InstanceList in
            let principal = try context.require(.read)
            let all = await runtime.allInstances().filter { principal.sees(tenant: $0.tenant) }
            var views: [InstanceView] = []
            for record in all { views.append(await view(record)) }
            return InstanceList(instances: views)
        }
        router.get("/instances/:id") { _, context -> InstanceView in
            let principal = try context.require(.read)
            let id = try context.parameters.require("id")
            guard let record = await runtime.instance(id), principal.sees(tenant: record.tenant) else {
                throw APIFailure.notFound("instance \(id) not found")
            }
            return await view(record)
        }
        router.post("/instances") { request, context -> Response in
            let principal = try context.require(.administer)
            let body = try await request.decode(as: InstanceBody.self, context: context)
            try Validate.id(body.id, "id")
            try Validate.id(body.tenant, "tenant")
            guard principal.sees(tenant: body.tenant) else { throw APIFailure.forbidden("this token registers instances of tenant \(principal.tenant ?? "") only") }
            if let existing = await runtime.instance(body.id), !principal.sees(tenant: existing.tenant) {
                throw APIFailure.conflict("instance id \(body.id) is taken")
            }
            try Validate.amounts(body.allocation, "allocation")
            try Validate.amounts(body.sla.maximum, "sla.maximum")
            if let minimum = body.sla.minimum { try Validate.amounts(minimum, "sla.minimum") }
            let weight = body.sla.weight ?? 1
            guard weight.isFinite, weight >= 0 else { throw APIFailure.badRequest("sla.weight must be a finite number ≥ 0") }
            try await runtime.register(instance: InstanceRecord(
                id: body.id, tenant: body.tenant, node: body.node, allocation: body.allocation.values,
                minimum: body.sla.minimum?.values ?? [0, 0, 0], maximum: body.sla.maximum.values, weight: weight))
            return try Self.json(body, status: .created)
        }
        router.post("/usage") { request, context -> UsageReceipt in
            let principal = try context.require(.operate)
            let body = try await request.body.collect(upTo: context.maxUploadSize)
            let batch: UsageBatch
            do { batch = UsageBatch(samples: try UsageBatchDecoding.decode(body)) }
            catch let error as FieldError { throw APIFailure.badRequest("\(error.field): \(error.message)") }
            guard batch.samples.count <= 100_000 else { throw APIFailure.badRequest("samples: at most 100000 per batch, got \(batch.samples.count)") }
            let visible: Set<String>? = principal.tenant == nil ? nil
                : Set(await runtime.allInstances().filter { $0.tenant == principal.tenant }.map(\.id))
            let receipt = try await runtime.accept(batch.samples) { visible?.contains($0) ?? true }
            metrics.samplesAccepted.increment(by: Int64(receipt.accepted))
            metrics.samplesRejected.increment(by: Int64(receipt.rejected))
            return receipt
        }
        router.get("/forecaster") { _, context -> ForecasterView in
            _ = try context.require(.read)
            return await runtime.forecasterView()
        }
        router.post("/forecaster/train") { _, context -> Response in
            let principal = try context.require(.administer)
            guard principal.tenant == nil else { throw APIFailure.forbidden("the networks are shared: a tenant's token cannot train them") }
            guard await training.start(until: await runtime.poolTime) != nil else {
                throw APIFailure.conflict("a training runs already; GET /forecaster tells when it is done")
            }
            var response = try Self.json(await runtime.forecasterView(), status: .accepted)
            response.headers[.location] = "/forecaster"
            return response
        }
        router.get("/pool") { _, context -> PoolView in
            let principal = try context.require(.read)
            guard principal.tenant == nil else { throw APIFailure.forbidden("the whole pool needs a token not bound to a tenant") }
            return await runtime.poolView()
        }
        router.get("/prediction") { request, context -> Response in
            let principal = try context.require(.read)
            let query = request.uri.queryParameters
            guard let id = query.get("instance"), !id.isEmpty else {
                throw APIFailure.badRequest("instance: query parameter required")
            }
            let texts = query.getAll("horizon").flatMap { $0.split(separator: ",").map(String.init) }
            let interval = runtime.configuration.interval
            let horizons = try texts.isEmpty ? PredictionCache.defaultHorizons(interval: interval) : texts.map {
                try PlanFormulation.horizonSlots($0, default: 0, interval: interval)
            }
            let key = PredictionCache.key(id, horizons)
            if let cached = runtime.predictionCache.get(key) {
                guard principal.sees(tenant: cached.tenant) else { throw APIFailure.notFound("instance \(id) not found") }
                return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: cached.body))
            }
            let generation = runtime.predictionCache.generation
            guard let record = await runtime.instance(id), principal.sees(tenant: record.tenant),
                  let view = await runtime.prediction(id, horizons: horizons) else {
                throw APIFailure.notFound("instance \(id) not found")
            }
            let body = ByteBuffer(bytes: try JSONEncoder().encode(view))
            runtime.predictionCache.set([(key, .init(tenant: record.tenant, body: body))], computedIn: generation)
            return Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: body))
        }
        router.post("/swap_request") { request, context -> Response in
            let principal = try context.require(.operate)
            let body = try await request.decode(as: SwapRequestBody.self, context: context)
            let view = try await Self.submit(body, principal: principal, runtime: runtime, store: store)
            guard view.status == "queued" else { return try Self.json(view, status: .ok) }
            var response = try Self.json(view, status: .accepted)
            response.headers[.location] = view.statusURL
            return response
        }
        router.get("/swaps/:id") { _, context -> PlanView in
            let principal = try context.require(.read)
            let id = try context.parameters.require("id")
            guard let record = try await store.plan(id: id), principal.sees(tenant: record.tenant),
                  var view = SwapRecords.value(PlanView.self, record.answer) else {
                throw APIFailure.notFound("plan \(id) not found")
            }
            try await Self.current(&view, record: record, principal: principal, store: store)
            view.journal = try await store.journal(plan: id).map { "\($0.step) \($0.phase): \($0.detail)" }
            return view
        }
        router.post("/swaps/:id/approve") { _, context -> PlanView in
            let principal = try context.require(.operate)
            let id = try context.parameters.require("id")
            return try await runtime.approve(plan: id, tenant: principal.tenant)
        }
        router.post("/swaps/:id/rollback") { request, context -> PlanView in
            let principal = try context.require(.operate)
            let id = try context.parameters.require("id")
            let buffer = try await request.body.collect(upTo: context.maxUploadSize)
            var body = RollbackRequestBody(instances: nil, reason: nil)
            if buffer.readableBytes > 0 {
                body = try JSONDecoder().decode(RollbackRequestBody.self, from: Data(buffer: buffer))  // a bad one: 400 naming the field
            }
            let reason = "operator: " + (body.reason ?? "rollback requested")
            return try await runtime.rollBack(plan: id, instances: body.instances, reason: reason, tenant: principal.tenant)
        }
        router.get("/swap_history") { request, context -> SwapHistoryView in
            let principal = try context.require(.read)
            let q = request.uri.queryParameters
            func integer(_ name: String) throws -> Int64? {
                guard let text = q.get(name) else { return nil }
                guard let value = Int64(text) else { throw APIFailure.badRequest("\(name): expected an integer, not \"\(text)\"") }
                return value
            }
            var query = SwapHistoryQuery(instance: q.get("instance"), tenant: q.get("tenant"),
                                         from: try integer("from"), to: try integer("to"), before: try integer("cursor"),
                                         limit: Int(try integer("limit") ?? 50))
            guard (1...1000).contains(query.limit) else { throw APIFailure.badRequest("limit must be 1...1000, not \(query.limit)") }
            if let outcome = q.get("outcome") {
                guard let value = SwapRecord.Outcome(rawValue: outcome) else {
                    throw APIFailure.badRequest("outcome: expected \(SwapRecord.Outcome.allCases.map(\.rawValue).joined(separator: ", ")), not \"\(outcome)\"")
                }
                query.outcome = value
            }
            if let tenant = principal.tenant {
                if let asked = query.tenant, asked != tenant { return SwapHistoryView(swaps: [], nextCursor: nil) }
                query.tenant = tenant
            }
            let records = try await store.swapHistory(query)
            let entries = records.map { r in
                SwapHistoryView.Entry(id: r.id ?? 0, plan: r.plan, instance: r.instance, tenant: r.tenant, time: r.time,
                                      fromNode: r.fromNode, toNode: r.toNode, before: Amounts(r.before), after: Amounts(r.after),
                                      predictedBenefit: Self.number(r.predictedBenefit), realisedBenefit: r.realisedBenefit.flatMap(Self.number),
                                      utilisationBefore: Self.number(r.utilisationBefore), utilisationAfter: r.utilisationAfter.flatMap(Self.number),
                                      durationMilliseconds: Self.number(r.durationMilliseconds), outcome: r.outcome.rawValue,
                                      reason: r.reason, endedAt: r.endedAt, restored: r.restored.map(Amounts.init),
                                      risk: SwapRecords.value(RiskReport.self, r.risk), verification: SwapRecords.value(Verification.self, r.verification))
            }
            return SwapHistoryView(swaps: entries, nextCursor: entries.count == query.limit ? entries.last.map { "\($0.id)" } : nil)
        }
    }

    /// A stored measurement as JSON can carry it: nil when not a number.
    static func number(_ value: Double) -> Double? { value.isNaN ? nil : value }

    func view(_ record: InstanceRecord) async -> InstanceView {
        InstanceView(id: record.id, tenant: record.tenant, node: record.node, allocation: Amounts(record.allocation),
                     sla: SLABody(minimum: Amounts(record.minimum), maximum: Amounts(record.maximum), weight: record.weight),
                     used: await runtime.used(record.id).map(Amounts.init))
    }

    /// A stored plan as it stands now: its status, and each swap as its record stands (a
    /// verifying swap may have committed or rolled back since the plan's answer was stored),
    /// only those `principal` sees.
    static func current(_ view: inout PlanView, record: PlanRecord, principal: Principal, store: any PoolStore) async throws {
        view.status = record.status.rawValue
        let stored = try await store.swapHistory(SwapHistoryQuery(plan: view.id, limit: 100_000))
        for k in view.swaps.indices {
            let swap = view.swaps[k]
            var current = stored.first { $0.id == swap.swapID && swap.swapID != nil } ?? stored.first { $0.instance == swap.instance }
            if view.kind == "rollback", let swapID = swap.swapID {
                current = try await store.swapHistory(SwapHistoryQuery(instance: swap.instance, limit: 100_000)).first { $0.id == swapID }
            }
            guard let current else { continue }
            view.swaps[k].swapID = current.id
            view.swaps[k].state = current.outcome.rawValue
            view.swaps[k].reason = current.reason
            view.swaps[k].verification = SwapRecords.value(Verification.self, current.verification) ?? view.swaps[k].verification
            if let risk = SwapRecords.value(RiskReport.self, current.risk) { view.swaps[k].risk.assessment = risk }
        }
        if principal.tenant != nil { view.swaps = view.swaps.filter { principal.sees(tenant: $0.tenant) } }
    }

    /// Plans a swap request and stores the plan: a dry run (the default) to look at, or queued
    /// for the next round. `POST /swap_request` and the dashboard's plan form.
    static func submit(_ body: SwapRequestBody, principal: Principal, runtime: PoolRuntime, store: any PoolStore) async throws -> PlanView {
        if let tenant = body.tenant, !principal.sees(tenant: tenant) { throw APIFailure.notFound("tenant \(tenant) not found") }
        if let m = body.maxMigrations, m < 0 || m > 1000 { throw APIFailure.badRequest("maxMigrations must be 0...1000, not \(m)") }
        if let m = body.maxChanges, m < 0 { throw APIFailure.badRequest("maxChanges must be ≥ 0, not \(m)") }
        for (id, amounts) in body.allocations ?? [:] { try Validate.amounts(amounts, "allocations.\(id)") }
        var view = try await runtime.plan(body, tenantScope: principal.tenant, solverSeconds: runtime.configuration.solverSeconds)
        let dryRun = body.dryRun ?? true
        let requestText = String(decoding: try JSONEncoder().encode(body), as: UTF8.self)
        view.status = dryRun ? "dryRun" : "queued"
        try await store.save(plan: PlanRecord(id: view.id, created: view.created, status: dryRun ? .dryRun : .queued, tenant: principal.tenant,
                                              request: requestText, answer: String(decoding: try JSONEncoder().encode(view), as: UTF8.self)))
        return view
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status) throws -> Response {
        let data = try JSONEncoder().encode(value)
        return Response(status: status, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Input checks shared by the handlers; each error names the field.
enum Validate {
    static func id(_ text: String, _ field: String) throws {
        guard !text.isEmpty, text.count <= 200, !text.contains(where: { $0.isNewline || $0 == "/" }) else {
            throw APIFailure.badRequest("\(field): expected 1 to 200 characters without '/' or line breaks")
        }
    }

    static func amounts(_ amounts: Amounts, _ field: String) throws {
        for (name, value) in zip(["cpu", "memory", "gpu"], amounts.values) {
            guard value.isFinite, value >= 0 else { throw APIFailure.badRequest("\(field).\(name) must be a finite number ≥ 0, not \(value)") }
        }
        guard amounts.gpu == amounts.gpu.rounded() else { throw APIFailure.badRequest("\(field).gpu must be whole, not \(amounts.gpu)") }
    }
}
