//! Entity types the emulator serves: their URL name, schema name, full shape with defaults (field
//! names and order as the QRS spec's `definitions`), condensed field list, references to other
//! entities and which generic endpoints the spec has for them.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde_json::{Map, Value, json};

use crate::qrs::spec;

/// Which generic endpoints the spec lists for a type.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub list: bool,
    pub full: bool,
    pub count: bool,
    pub get: bool,
    pub create: bool,
    pub many: bool,
    pub update: bool,
    pub delete: bool,
    /// `POST /qrs/{type}/table`.
    pub table: bool,
}

const ALL: Caps = Caps {
    list: true,
    full: true,
    count: true,
    get: true,
    create: true,
    many: true,
    update: true,
    delete: true,
    table: true,
};

pub struct TypeDef {
    /// URL segment: `app`, `reloadtask`, `executionresult`.
    pub name: &'static str,
    /// `schemaPath` of full entities.
    pub schema: &'static str,
    /// Spec definition of the condensed shape (for the fidelity test).
    pub condensed_schema: &'static str,
    /// Fields of the condensed shape; `None` = every full field except the audit ones and
    /// `customProperties` (VirtualProxyConfigCondensed is like that).
    pub condensed: Option<&'static [&'static str]>,
    /// Paths holding references to other entities (`owner` → user). Stored as `{"id": ..}` and
    /// expanded to the target's condensed shape when rendered. A path through an array applies to
    /// every element (`customProperties.definition`).
    pub refs: &'static [(&'static str, &'static str)],
    /// Rows come from another type's table (`task` is a view over `reloadtask`).
    pub view_of: Option<&'static str>,
    /// Full fields for a view (projected from the source type's full shape).
    pub view_fields: Option<&'static [&'static str]>,
    pub caps: Caps,
    /// Whether entities carry `privileges` (Task does not, per spec).
    pub has_privileges: bool,
}

const OWNED: &[(&str, &str)] = &[
    ("owner", "user"),
    ("tags", "tag"),
    ("customProperties.definition", "custompropertydefinition"),
];

pub const TYPES: &[TypeDef] = &[
    TypeDef {
        name: "app",
        schema: "App",
        condensed_schema: "AppCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "name",
            "appId",
            "publishTime",
            "published",
            "stream",
            "savedInProductVersion",
            "migrationHash",
            "availabilityStatus",
        ]),
        refs: &[
            ("owner", "user"),
            ("stream", "stream"),
            ("tags", "tag"),
            ("customProperties.definition", "custompropertydefinition"),
        ],
        view_of: None,
        view_fields: None,
        caps: Caps {
            create: false,
            many: false,
            ..ALL
        },
        has_privileges: true,
    },
    TypeDef {
        name: "stream",
        schema: "Stream",
        condensed_schema: "StreamCondensed",
        condensed: Some(&["id", "privileges", "name"]),
        refs: OWNED,
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "tag",
        schema: "Tag",
        condensed_schema: "TagCondensed",
        condensed: Some(&["id", "privileges", "name"]),
        refs: &[],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "user",
        schema: "User",
        condensed_schema: "UserCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "userId",
            "userDirectory",
            "userDirectoryConnectorName",
            "name",
        ]),
        refs: &[
            ("tags", "tag"),
            ("customProperties.definition", "custompropertydefinition"),
        ],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "reloadtask",
        schema: "ReloadTask",
        condensed_schema: "ReloadTaskCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "name",
            "taskType",
            "enabled",
            "taskSessionTimeout",
            "maxRetries",
            "operational",
        ]),
        refs: &[
            ("app", "app"),
            ("tags", "tag"),
            ("customProperties.definition", "custompropertydefinition"),
        ],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "task",
        schema: "Task",
        condensed_schema: "TaskCondensed",
        condensed: Some(&[
            "id",
            "name",
            "taskType",
            "enabled",
            "taskSessionTimeout",
            "maxRetries",
        ]),
        refs: &[],
        view_of: Some("reloadtask"),
        view_fields: Some(&[
            "id",
            "createdDate",
            "modifiedDate",
            "modifiedByUserName",
            "schemaPath",
            "name",
            "taskType",
            "enabled",
            "taskSessionTimeout",
            "maxRetries",
            "tags",
        ]),
        caps: Caps {
            list: true,
            full: true,
            count: false,
            get: false,
            create: false,
            many: false,
            update: false,
            delete: false,
            table: true,
        },
        has_privileges: false,
    },
    TypeDef {
        name: "schemaevent",
        schema: "SchemaEvent",
        condensed_schema: "SchemaEventCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "name",
            "enabled",
            "eventType",
            "operational",
        ]),
        refs: &[("reloadTask", "reloadtask")],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "compositeevent",
        schema: "CompositeEvent",
        condensed_schema: "CompositeEventCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "name",
            "enabled",
            "eventType",
            "operational",
        ]),
        refs: &[
            ("reloadTask", "reloadtask"),
            ("compositeRules.reloadTask", "reloadtask"),
        ],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "executionsession",
        schema: "ExecutionSession",
        condensed_schema: "ExecutionSessionCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "executingNode",
            "executionResult",
            "abortAt",
            "abortReason",
            "reloadTask",
            "userSyncTask",
            "externalProgramTask",
        ]),
        refs: &[
            ("executionResult", "executionresult"),
            ("app", "app"),
            ("reloadTask", "reloadtask"),
        ],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "executionresult",
        schema: "ExecutionResult",
        condensed_schema: "ExecutionResultCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "executingNodeName",
            "status",
            "startTime",
            "stopTime",
            "duration",
            "fileReferenceID",
            "scriptLogAvailable",
            "details",
            "scriptLogLocation",
            "scriptLogSize",
        ]),
        refs: &[],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "custompropertydefinition",
        schema: "CustomPropertyDefinition",
        condensed_schema: "CustomPropertyDefinitionCondensed",
        condensed: Some(&["id", "privileges", "name", "valueType", "choiceValues"]),
        refs: &[],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "dataconnection",
        schema: "DataConnection",
        condensed_schema: "DataConnectionCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "name",
            "connectionstring",
            "type",
            "engineObjectId",
            "username",
            "password",
            "logOn",
            "architecture",
        ]),
        refs: OWNED,
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "extension",
        schema: "Extension",
        condensed_schema: "ExtensionCondensed",
        condensed: Some(&["id", "privileges", "name"]),
        refs: OWNED,
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "contentlibrary",
        schema: "ContentLibrary",
        condensed_schema: "ContentLibraryCondensed",
        condensed: Some(&["id", "privileges", "name", "type"]),
        refs: OWNED,
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "systemrule",
        schema: "SystemRule",
        condensed_schema: "SystemRuleCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "category",
            "subcategory",
            "type",
            "name",
            "rule",
            "resourceFilter",
            "actions",
            "comment",
            "disabled",
        ]),
        refs: &[("tags", "tag")],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "virtualproxyconfig",
        schema: "VirtualProxyConfig",
        condensed_schema: "VirtualProxyConfigCondensed",
        condensed: None,
        refs: &[
            ("tags", "tag"),
            ("customProperties.definition", "custompropertydefinition"),
            ("loadBalancingServerNodes", "servernodeconfiguration"),
        ],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "userdirectory",
        schema: "UserDirectory",
        condensed_schema: "UserDirectoryCondensed",
        condensed: Some(&["id", "privileges", "name", "type"]),
        refs: &[("tags", "tag")],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    },
    TypeDef {
        name: "servernodeconfiguration",
        schema: "ServerNodeConfiguration",
        condensed_schema: "ServerNodeConfigurationCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "name",
            "hostName",
            "temporaryfilepath",
            "roles",
            "serviceCluster",
        ]),
        refs: &[
            ("tags", "tag"),
            ("customProperties.definition", "custompropertydefinition"),
        ],
        view_of: None,
        view_fields: None,
        caps: Caps {
            create: false,
            many: false,
            ..ALL
        },
        has_privileges: true,
    },
    TypeDef {
        name: "servicestatus",
        schema: "ServiceStatus",
        condensed_schema: "ServiceStatusCondensed",
        condensed: Some(&["id", "privileges"]),
        refs: &[("serverNodeConfiguration", "servernodeconfiguration")],
        view_of: None,
        view_fields: None,
        caps: Caps {
            create: false,
            many: false,
            update: false,
            delete: false,
            ..ALL
        },
        has_privileges: true,
    },
    TypeDef {
        name: "app/object",
        schema: "App.Object",
        condensed_schema: "AppObjectCondensed",
        condensed: Some(&[
            "id",
            "privileges",
            "name",
            "engineObjectId",
            "contentHash",
            "engineObjectType",
            "description",
            "objectType",
            "publishTime",
            "published",
        ]),
        refs: &[("owner", "user"), ("app", "app"), ("tags", "tag")],
        view_of: None,
        view_fields: None,
        // The repository records objects as apps are saved; the API does not create them.
        caps: Caps {
            create: false,
            many: false,
            ..ALL
        },
        has_privileges: true,
    },
    allocation(
        "license/analyzeraccesstype",
        "License.AnalyzerAccessType",
        "LicenseAnalyzerAccessTypeCondensed",
    ),
    allocation(
        "license/professionalaccesstype",
        "License.ProfessionalAccessType",
        "LicenseProfessionalAccessTypeCondensed",
    ),
];

/// A licence allocation type (`license/<kind>accesstype`): one per user, same shape for every
/// kind.
const fn allocation(
    name: &'static str,
    schema: &'static str,
    condensed_schema: &'static str,
) -> TypeDef {
    TypeDef {
        name,
        schema,
        condensed_schema,
        condensed: Some(&["id", "privileges"]),
        refs: &[("user", "user")],
        view_of: None,
        view_fields: None,
        caps: ALL,
        has_privileges: true,
    }
}

/// The spec definition of a type's full shape (`App.Object` → `AppObject`).
pub fn spec_definition(td: &TypeDef) -> String {
    td.schema.replace('.', "")
}

/// The type whose schema name is `name` (`App`, `App.Object`, `AppObject`, `ReloadTask`;
/// compared without case and dots), or whose URL name it is.
pub fn type_by_schema(name: &str) -> Option<&'static TypeDef> {
    let key = |s: &str| s.replace('.', "").to_ascii_lowercase();
    let wanted = key(name);
    TYPES
        .iter()
        .find(|t| key(t.schema) == wanted || t.name.replace('/', "") == wanted)
}

pub fn type_def(name: &str) -> Option<&'static TypeDef> {
    TYPES.iter().find(|t| t.name == name)
}

/// Fields never taken from a request body: the server owns them.
pub const SERVER_OWNED: &[&str] = &[
    "id",
    "createdDate",
    "modifiedDate",
    "modifiedByUserName",
    "schemaPath",
    "privileges",
];

fn audit(schema: &str, privileges: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(spec::EMPTY_GUID));
    m.insert("createdDate".into(), json!(spec::NEVER_DATE));
    m.insert("modifiedDate".into(), json!(spec::NEVER_DATE));
    m.insert("modifiedByUserName".into(), json!(""));
    m.insert("schemaPath".into(), json!(schema));
    if privileges {
        m.insert("privileges".into(), Value::Null);
    }
    m
}

fn with(mut base: Map<String, Value>, rest: Value) -> Map<String, Value> {
    if let Value::Object(rest) = rest {
        base.extend(rest);
    }
    base
}

fn build_defaults(ty: &str) -> Map<String, Value> {
    let never = spec::NEVER_DATE;
    match ty {
        "app" => with(
            audit("App", true),
            json!({
                "customProperties": [], "owner": null, "name": "", "appId": "",
                "sourceAppId": spec::EMPTY_GUID, "targetAppId": spec::EMPTY_GUID,
                "publishTime": never, "published": false, "tags": [], "description": "",
                "stream": null, "fileSize": 0, "lastReloadTime": never, "thumbnail": "",
                "savedInProductVersion": "14.113.4", "migrationHash": "", "dynamicColor": "",
                "availabilityStatus": 0, "lastDataDistribution": never,
            }),
        ),
        "stream" => with(
            audit("Stream", true),
            json!({"customProperties": [], "owner": null, "name": "", "tags": []}),
        ),
        "tag" => with(audit("Tag", true), json!({"name": ""})),
        "user" => with(
            audit("User", true),
            json!({
                "customProperties": [], "userId": "", "userDirectory": "",
                "userDirectoryConnectorName": "", "name": "", "roles": [], "attributes": [],
                "inactive": false, "removedExternally": false, "blacklisted": false,
                "deleteProhibited": false, "tags": [], "favorites": [],
            }),
        ),
        "reloadtask" => with(
            audit("ReloadTask", true),
            json!({
                "customProperties": [], "name": "", "taskType": 0, "enabled": true,
                "taskSessionTimeout": 1440, "maxRetries": 0, "tags": [], "app": null,
                "isManuallyTriggered": false, "operational": null, "isPartialReload": false,
            }),
        ),
        "schemaevent" => with(
            audit("SchemaEvent", true),
            json!({
                "name": "", "enabled": true, "eventType": 0, "reloadTask": null,
                "userSyncTask": null, "externalProgramTask": null, "timeZone": "UTC",
                "daylightSavingTime": 0, "startDate": never,
                "expirationDate": "9999-01-01T00:00:00.000Z",
                "schemaFilterDescription": ["* * - * * * * *"], "incrementDescription": "0 0 1 0",
                "incrementOption": 2, "operational": null,
            }),
        ),
        "compositeevent" => with(
            audit("CompositeEvent", true),
            json!({
                "name": "", "enabled": true, "eventType": 1, "reloadTask": null,
                "userSyncTask": null, "externalProgramTask": null,
                "timeConstraint": null, "compositeRules": [], "operational": null,
            }),
        ),
        "executionsession" => with(
            audit("ExecutionSession", true),
            json!({
                "executingNode": null, "executionResult": null, "abortAt": never, "retries": 0,
                "abortReason": 0, "app": null, "user": "", "reloadTask": null,
                "userSyncTask": null, "externalProgramTask": null,
            }),
        ),
        "executionresult" => with(
            audit("ExecutionResult", true),
            json!({
                "taskID": spec::EMPTY_GUID, "executionID": spec::EMPTY_GUID,
                "appID": spec::EMPTY_GUID, "executingNodeID": spec::EMPTY_GUID,
                "executingNodeName": "", "status": 0, "startTime": never, "stopTime": never,
                "duration": 0, "fileReferenceID": spec::EMPTY_GUID, "scriptLogAvailable": false,
                "details": [], "scriptLogLocation": "", "scriptLogSize": 0,
            }),
        ),
        "custompropertydefinition" => with(
            audit("CustomPropertyDefinition", true),
            json!({
                "name": "", "valueType": "Text", "choiceValues": [], "objectTypes": [],
                "description": "",
            }),
        ),
        "dataconnection" => with(
            audit("DataConnection", true),
            json!({
                "customProperties": [], "owner": null, "name": "", "connectionstring": "",
                "type": "folder", "engineObjectId": "", "username": "", "password": "",
                "logOn": 0, "architecture": 0, "tags": [],
            }),
        ),
        "extension" => with(
            audit("Extension", true),
            json!({
                "customProperties": [], "owner": null, "name": "", "tags": [],
                "whiteList": null, "references": [],
            }),
        ),
        "contentlibrary" => with(
            audit("ContentLibrary", true),
            json!({
                "customProperties": [], "owner": null, "name": "", "type": "Custom",
                "tags": [], "whiteList": null, "references": [],
            }),
        ),
        "systemrule" => with(
            audit("SystemRule", true),
            json!({
                "category": "Security", "subcategory": "", "type": "Custom", "name": "",
                "rule": "", "resourceFilter": "", "actions": 0, "comment": "",
                "disabled": false, "ruleContext": 0, "seedId": spec::EMPTY_GUID, "version": 0,
                "tags": [],
            }),
        ),
        "virtualproxyconfig" => with(
            with(
                audit("VirtualProxyConfig", true),
                json!({
                "customProperties": [], "prefix": "", "description": "",
                "authenticationModuleRedirectUri": "", "sessionModuleBaseUri": "",
                "loadBalancingModuleBaseUri": "", "useStickyLoadBalancing": false,
                "loadBalancingServerNodes": [], "authenticationMethod": 0,
                "headerAuthenticationMode": 0, "headerAuthenticationHeaderName": "",
                "headerAuthenticationStaticUserDirectory": "",
                "headerAuthenticationDynamicUserDirectory": "", "anonymousAccessMode": 0,
                "windowsAuthenticationEnabledDevicePattern": "Windows",
                "sessionCookieHeaderName": "X-Qlik-Session", "sessionCookieDomain": "",
                "hasSecureAttributeHttps": true, "sameSiteAttributeHttps": 0,
                "hasSecureAttributeHttp": false, "sameSiteAttributeHttp": 0,
                "additionalResponseHeaders": "", "sessionInactivityTimeout": 30,
                }),
            ),
            json!({
                "extendedSecurityEnvironment": false, "websocketCrossOriginWhiteList": [],
                "defaultVirtualProxy": false, "tags": [], "samlMetadataIdP": "",
                "samlHostUri": "", "samlEntityId": "", "samlAttributeUserId": "",
                "samlAttributeUserDirectory": "", "samlAttributeSigningAlgorithm": 1,
                "samlAttributeMap": [], "jwtAttributeUserId": "", "jwtAttributeUserDirectory": "",
                "jwtAudience": "", "jwtPublicKeyCertificate": "", "jwtAttributeMap": [],
                "magicLinkHostUri": "", "magicLinkFriendlyName": "", "samlSlo": false,
                "disableOidcOptionalAttributesParsing": false, "oidcConfigurationEndpointUri": "",
                "oidcClientId": "", "oidcClientSecret": "", "oidcRealm": "", "oidcAttributeSub": "",
                "oidcAttributeName": "", "oidcAttributeGroups": "", "oidcAttributeEmail": "",
                "oidcAttributeClientId": "", "oidcAttributePicture": "", "oidcScope": "",
                "oidcAttributeMap": [],
            }),
        ),
        "userdirectory" => with(
            audit("UserDirectory", true),
            json!({
                "name": "", "userDirectoryName": "", "configured": true, "operational": true,
                "type": "Repository.UserDirectoryConnectors.ODBC.OdbcSql",
                "syncOnlyLoggedInUsers": true, "syncStatus": 0, "syncLastStarted": never,
                "syncLastSuccessfulEnded": never, "configuredError": "", "operationalError": "",
                "settings": [], "tags": [], "creationType": 1,
            }),
        ),
        "servernodeconfiguration" => with(
            audit("ServerNodeConfiguration", true),
            json!({
                "customProperties": [], "name": "", "hostName": "", "isCentral": false,
                "nodePurpose": 2, "engineEnabled": true, "proxyEnabled": true,
                "printingEnabled": true, "schedulerEnabled": true, "tags": [],
                "temporaryfilepath": "", "roles": [], "serviceCluster": null,
                "failoverCandidate": false,
            }),
        ),
        "servicestatus" => with(
            audit("ServiceStatus", true),
            json!({
                "serverNodeConfiguration": null, "serviceType": 0, "serviceState": 2,
                "timestamp": never,
            }),
        ),
        "app/object" => with(
            audit("App.Object", true),
            json!({
                "owner": null, "name": "", "engineObjectId": "", "app": null,
                "contentHash": "", "size": 0, "engineObjectType": "", "description": "",
                "attributes": "", "objectType": "", "publishTime": never, "published": false,
                "approved": false, "tags": [], "sourceObject": "", "draftObject": "",
                "appObjectBlobId": spec::EMPTY_GUID,
            }),
        ),
        "license/analyzeraccesstype" | "license/professionalaccesstype" => with(
            audit(type_def(ty).map_or("", |t| t.schema), true),
            json!({
                "user": null, "lastUsed": never, "excess": false, "quarantined": false,
                "quarantineEnd": never, "deletedUserId": "", "deletedUserDirectory": "",
            }),
        ),
        _ => Map::new(),
    }
}

/// Field lists per type, computed once.
struct Fields {
    full: Vec<String>,
    condensed: Vec<String>,
}

fn fields_of(td: &TypeDef) -> &'static Fields {
    static CACHE: OnceLock<HashMap<&'static str, Fields>> = OnceLock::new();
    static EMPTY: Fields = Fields {
        full: Vec::new(),
        condensed: Vec::new(),
    };
    let cache = CACHE.get_or_init(|| {
        TYPES
            .iter()
            .map(|t| {
                let full: Vec<String> = match t.view_fields {
                    Some(f) => f.iter().map(|s| (*s).to_string()).collect(),
                    None => build_defaults(t.name).keys().cloned().collect(),
                };
                let condensed = match t.condensed {
                    Some(f) => f.iter().map(|s| (*s).to_string()).collect(),
                    None => full
                        .iter()
                        .filter(|f| {
                            !matches!(
                                f.as_str(),
                                "createdDate"
                                    | "modifiedDate"
                                    | "modifiedByUserName"
                                    | "schemaPath"
                                    | "customProperties"
                            )
                        })
                        .cloned()
                        .collect(),
                };
                (t.name, Fields { full, condensed })
            })
            .collect()
    });
    cache.get(td.name).unwrap_or(&EMPTY)
}

/// Full field names of `td` (a view projects its source's full shape).
pub fn full_fields(td: &TypeDef) -> &'static [String] {
    &fields_of(td).full
}

/// Condensed field names of `td`.
pub fn condensed_fields(td: &TypeDef) -> &'static [String] {
    &fields_of(td).condensed
}

/// The full shape of a new entity of `ty` with every spec field at its default.
pub fn defaults(ty: &str) -> Map<String, Value> {
    static CACHE: OnceLock<HashMap<&'static str, Map<String, Value>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| {
        TYPES
            .iter()
            .map(|t| (t.name, build_defaults(t.name)))
            .collect()
    });
    cache.get(ty).cloned().unwrap_or_default()
}
