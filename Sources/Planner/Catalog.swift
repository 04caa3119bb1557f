import EdgeInsightCore
import Foundation
import Testbed
import Yams

/// What devices and cloud nodes cost: the device profiles (price, watts) and `profiles/cloud.yaml`.
public struct Catalog: Sendable {
    public struct CloudNode: Sendable, Equatable {
        public var name: String
        public var cores: Double
        public var pricePerHour: Double
    }

    public var devices: [String: DeviceProfile]
    public var clouds: [String: CloudNode]

    public init(devices: [String: DeviceProfile], clouds: [String: CloudNode]) {
        self.devices = devices
        self.clouds = clouds
    }

    /// Reads the device profiles and the cloud node types of the checkout.
    public static func load() throws(PlanError) -> Catalog {
        func read(_ file: String) throws(PlanError) -> (String, [String: [String: Any]]) {
            guard let path = ProjectFolders.roots().map({ $0 + "/profiles/" + file }).first(where: { FileManager.default.fileExists(atPath: $0) }),
                  let text = try? String(contentsOfFile: path, encoding: .utf8),
                  let root = (try? Yams.load(yaml: text)) as? [String: [String: Any]] else {
                throw .badPlan("cannot read profiles/\(file)")
            }
            return (path, root)
        }
        func number(_ value: Any?) -> Double? { (value as? Double) ?? (value as? Int).map(Double.init) }
        let devices: [String: DeviceProfile]
        do { devices = try DeviceProfile.all() } catch { throw .badPlan("\(error)") }
        var clouds: [String: CloudNode] = [:]
        let (cloudPath, cloudEntries) = try read("cloud.yaml")
        for (name, entry) in cloudEntries {
            guard let cores = number(entry["cores"]), let price = number(entry["price_per_hour"]) else { throw .badPlan("\(cloudPath): '\(name)' needs cores and price_per_hour") }
            clouds[name] = CloudNode(name: name, cores: cores, pricePerHour: price)
        }
        return Catalog(devices: devices, clouds: clouds)
    }
}

/// Errors of plans; one line each, naming the file and line where there is one.
public enum PlanError: Error, CustomStringConvertible, Equatable {
    case badPlan(String)
    public var description: String { switch self { case .badPlan(let message): message } }
}
