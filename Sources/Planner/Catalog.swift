import EdgeInsightCore
import Foundation
import Profiles

/// What devices and cloud nodes cost: the device profiles (price, watts) and the cloud node types.
public struct Catalog: Sendable {
    public var devices: [String: DeviceProfile]
    public var clouds: [String: CloudProfile]

    public init(devices: [String: DeviceProfile], clouds: [String: CloudProfile]) {
        self.devices = devices
        self.clouds = clouds
    }

    /// Reads the device profiles and the cloud node types of the checkout.
    public static func load() throws(PlanError) -> Catalog {
        do { return Catalog(devices: try DeviceProfile.all(), clouds: try CloudProfile.all()) } catch { throw .badPlan("\(error)") }
    }
}

/// Errors of plans; one line each, naming the file and line where there is one.
public enum PlanError: Error, CustomStringConvertible, Equatable {
    case badPlan(String)
    public var description: String { switch self { case .badPlan(let message): message } }
}
