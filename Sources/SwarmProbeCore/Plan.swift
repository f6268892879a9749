/// One ordered pair of nodes and one traffic kind.
public struct PlannedCheck: Sendable, Hashable {
    public var from: Node
    public var to: Node
    public var kind: TrafficKind
    public var required: Bool

    public init(from: Node, to: Node, kind: TrafficKind, required: Bool) {
        self.from = from
        self.to = to
        self.kind = kind
        self.required = required
    }
}

public enum Planner {
    /// Every enabled kind between every ordered pair, `required` from the roles.
    /// Order: by kind (profile order), then sender, then target (inventory order).
    public static func checks(inventory: Inventory, profile: Profile) -> [PlannedCheck] {
        var out: [PlannedCheck] = []
        out.reserveCapacity(inventory.nodes.count * max(0, inventory.nodes.count - 1) * profile.enabledKinds.count)
        for kind in profile.enabledKinds {
            for a in inventory.nodes {
                for b in inventory.nodes where b.name != a.name {
                    out.append(PlannedCheck(from: a, to: b, kind: kind, required: kind.isRequired(from: a.role, to: b.role)))
                }
            }
        }
        return out
    }

    /// How many checks `checks(inventory:profile:)` would return, without building them.
    public static func count(inventory: Inventory, profile: Profile) -> Int {
        inventory.nodes.count * max(0, inventory.nodes.count - 1) * profile.enabledKinds.count
    }

    /// The same checks in the same order as `checks(inventory:profile:)`, one at a time, so a plan of
    /// millions of checks (1,000 nodes) is never held in memory. `body` also gets the indexes of the
    /// kind (in `profile.enabledKinds`), the sender and the target (in `inventory.nodes`).
    public static func forEach(
        inventory: Inventory, profile: Profile,
        _ body: (_ check: PlannedCheck, _ kind: Int, _ from: Int, _ to: Int) throws -> Void
    ) rethrows {
        let nodes = inventory.nodes
        for (k, kind) in profile.enabledKinds.enumerated() {
            for (i, a) in nodes.enumerated() {
                for (j, b) in nodes.enumerated() where b.name != a.name {
                    try body(PlannedCheck(from: a, to: b, kind: kind, required: kind.isRequired(from: a.role, to: b.role)), k, i, j)
                }
            }
        }
    }
}
