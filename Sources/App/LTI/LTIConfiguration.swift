// The tool's configuration as an LMS admin pastes it (Canvas's JSON configuration; its URLs are what every LMS asks
// for): where logins begin, where launches and deep linking land, the key set, the services it uses (grade passback,
// the roster), and where it appears in a course.
import Foundation

enum LTIConfiguration {
    static let scopes = [
        "https://purl.imsglobal.org/spec/lti-ags/scope/lineitem",
        "https://purl.imsglobal.org/spec/lti-ags/scope/result.readonly",
        "https://purl.imsglobal.org/spec/lti-ags/scope/score",
        "https://purl.imsglobal.org/spec/lti-nrps/scope/contextmembership.readonly",
    ]

    static func document(_ config: AppConfig) -> [String: Any] {
        let login = config.absolute(SitePath.ltiLogin.url), launch = config.absolute(SitePath.ltiLaunch.url)
        let host = config.publicURL?.host ?? ""
        func placement(_ name: String, _ message: String) -> [String: Any] {
            ["placement": name, "message_type": message, "target_link_uri": launch, "text": "CampusCloud"]
        }
        return [
            "title": "CampusCloud",
            "description": "Coding assignments graded in a sandbox, labs and governed AI access, on the university's cloud credits.",
            "oidc_initiation_url": login,
            "target_link_uri": launch,
            "redirect_uris": [launch],
            "public_jwk_url": config.absolute(SitePath.ltiKeySet.url),
            "scopes": scopes,
            "extensions": [[
                "platform": "canvas.instructure.com",
                "domain": host,
                "privacy_level": "public",
                "settings": ["placements": [
                    placement("link_selection", "LtiDeepLinkingRequest"),
                    placement("assignment_selection", "LtiDeepLinkingRequest"),
                    placement("course_navigation", "LtiResourceLinkRequest"),
                ]],
            ]],
            "custom_fields": [:] as [String: String],
        ]
    }
}
