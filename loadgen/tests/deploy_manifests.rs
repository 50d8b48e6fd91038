//! The deployment files under `deploy/`, checked against what they describe: Kubernetes' own API
//! types (k8s-openapi; unknown fields are errors), the `scan-bench` binary the containers run
//! (its `--help`, its config parsers, `scan-bench validate`), and the metrics the load generator
//! exports (the Grafana dashboard).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use assert_cmd::Command;
use k8s_openapi::Metadata;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Namespace, PersistentVolumeClaim, Pod, PodSpec, Service, Volume,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use mock_openai::MockConfig;
use reference_pipeline::PipelineConfig;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The image every container runs; kustomization.yaml's `images` points it at a registry.
const IMAGE: &str = "scan-bench";
const SHARDS_JOB: &str = "scan-bench-shards";
const MERGE_JOB: &str = "scan-bench-merge";
const INDEX_VAR: &str = "JOB_COMPLETION_INDEX";
/// The workloads whose timing is the point: what the shards measure, the pipeline is measured
/// by and the mock simulates. No CPU limit there (CFS throttling distorts timing); everywhere
/// else one. checkov's CPU-limit check is skipped by an annotation on exactly these.
const TIMED: [&str; 3] = [
    "Deployment/mock-openai",
    "Deployment/reference-pipeline",
    "Job/scan-bench-shards",
];
const CPU_LIMIT_CHECK: &str = "CKV_K8S_11";

fn deploy_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    workspace.join("deploy")
}

fn scan_bench() -> Command {
    Command::cargo_bin("scan-bench").unwrap()
}

/// Every object of every YAML document under deploy/kubernetes, typed.
#[derive(Default)]
struct Manifests {
    namespaces: Vec<Namespace>,
    config_maps: Vec<ConfigMap>,
    claims: Vec<PersistentVolumeClaim>,
    deployments: Vec<Deployment>,
    services: Vec<Service>,
    jobs: Vec<Job>,
    pods: Vec<Pod>,
    network_policies: Vec<NetworkPolicy>,
    /// `(kind, name)` of every object but the kustomizations.
    objects: BTreeSet<(String, String)>,
    /// The object files of each directory, by file name.
    files: BTreeMap<PathBuf, BTreeSet<String>>,
    /// Each directory's kustomization.yaml.
    kustomizations: BTreeMap<PathBuf, Value>,
}

impl Manifests {
    fn load() -> Self {
        let mut manifests = Self::default();
        for path in yaml_files(&deploy_dir().join("kubernetes")) {
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            for (n, document) in serde_norway::Deserializer::from_str(&text).enumerate() {
                let at = format!("{} (document {})", path.display(), n + 1);
                let value = Value::deserialize(document).unwrap_or_else(|e| panic!("{at}: {e}"));
                if !value.is_null() {
                    manifests.add(&path, &at, value);
                }
            }
        }
        manifests
    }

    fn add(&mut self, path: &Path, at: &str, value: Value) {
        let dir = path.parent().unwrap().to_path_buf();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let api_version = value["apiVersion"].as_str().unwrap_or_default().to_owned();
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        if file == "kustomization.yaml" {
            assert_eq!(
                (api_version.as_str(), kind.as_str()),
                ("kustomize.config.k8s.io/v1beta1", "Kustomization"),
                "{at}"
            );
            self.kustomizations.insert(dir, value);
            return;
        }
        self.files.entry(dir).or_default().insert(file);
        let meta = match (api_version.as_str(), kind.as_str()) {
            ("v1", "Namespace") => push(&mut self.namespaces, typed(at, value)),
            ("v1", "ConfigMap") => push(&mut self.config_maps, typed(at, value)),
            ("v1", "PersistentVolumeClaim") => push(&mut self.claims, typed(at, value)),
            ("v1", "Service") => push(&mut self.services, typed(at, value)),
            ("v1", "Pod") => push(&mut self.pods, typed(at, value)),
            ("apps/v1", "Deployment") => push(&mut self.deployments, typed(at, value)),
            ("batch/v1", "Job") => push(&mut self.jobs, typed(at, value)),
            ("networking.k8s.io/v1", "NetworkPolicy") => {
                push(&mut self.network_policies, typed(at, value))
            }
            other => panic!(
                "{at}: unexpected {other:?}; expected a v1 Namespace, ConfigMap, \
                 PersistentVolumeClaim, Service or Pod, an apps/v1 Deployment, a batch/v1 Job \
                 or a networking.k8s.io/v1 NetworkPolicy"
            ),
        };
        // The kustomizations set the namespace, in one place.
        assert_eq!(
            meta.namespace, None,
            "{at}: set the namespace in kustomization.yaml"
        );
        let name = meta
            .name
            .unwrap_or_else(|| panic!("{at}: no metadata.name"));
        assert!(
            self.objects.insert((kind, name.clone())),
            "{at}: {name} twice"
        );
    }

    fn job(&self, name: &str) -> &Job {
        self.jobs
            .iter()
            .find(|j| j.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no Job {name}"))
    }

    fn config_map(&self, name: &str) -> &ConfigMap {
        self.config_maps
            .iter()
            .find(|c| c.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no ConfigMap {name}"))
    }

    /// Every pod template (and pod) with the object it belongs to, e.g. `Job/scan-bench-merge`.
    fn pod_specs(&self) -> Vec<(String, &PodSpec)> {
        let templates = self.pod_templates().into_iter();
        templates.map(|t| (t.owner, t.spec)).collect()
    }

    /// Every pod template (and pod): its owner, the owner's metadata and the pods' labels.
    fn pod_templates(&self) -> Vec<PodTemplate<'_>> {
        let deployments = self.deployments.iter().map(|d| {
            let t = &d.spec.as_ref().unwrap().template;
            PodTemplate::new(
                "Deployment",
                &d.metadata,
                t.metadata.as_ref(),
                t.spec.as_ref(),
            )
        });
        let jobs = self.jobs.iter().map(|j| {
            let t = &j.spec.as_ref().unwrap().template;
            PodTemplate::new("Job", &j.metadata, t.metadata.as_ref(), t.spec.as_ref())
        });
        let pods = self
            .pods
            .iter()
            .map(|p| PodTemplate::new("Pod", &p.metadata, Some(&p.metadata), p.spec.as_ref()));
        deployments.chain(jobs).chain(pods).collect()
    }

    fn pod_template(&self, owner: &str) -> PodTemplate<'_> {
        let found = self.pod_templates().into_iter().find(|t| t.owner == owner);
        found.unwrap_or_else(|| panic!("no {owner}"))
    }

    /// Containers (init containers too) that run the image's entrypoint, `scan-bench`, with
    /// their parsed command line.
    fn scan_bench_containers(&self) -> Vec<Entrypoint<'_>> {
        let mut found = Vec::new();
        for (owner, pod) in self.pod_specs() {
            let init = pod.init_containers.iter().flatten();
            for container in init.chain(&pod.containers) {
                if container.command.is_none() {
                    let at = format!("{owner} container {}", container.name);
                    let args = container.args.clone().unwrap_or_default();
                    let invocation = Invocation::parse(&args, &at);
                    found.push(Entrypoint {
                        at,
                        pod,
                        container,
                        invocation,
                    });
                }
            }
        }
        found
    }

    /// The single container running `scan-bench SUBCOMMAND` in `owner`'s pod.
    fn entrypoint(&self, owner: &str, subcommand: &str) -> Entrypoint<'_> {
        let mut found: Vec<_> = self
            .scan_bench_containers()
            .into_iter()
            .filter(|e| e.at.starts_with(&format!("{owner} ")) && e.invocation.is(subcommand))
            .collect();
        assert_eq!(found.len(), 1, "{owner}: one `scan-bench {subcommand}`");
        found.pop().unwrap()
    }

    /// The text of the ConfigMap key mounted at `path` in `container`.
    fn mounted_file(&self, pod: &PodSpec, container: &Container, path: &str) -> &str {
        let (volume, relative) = mount_of(pod, container, path);
        let source = volume
            .config_map
            .as_ref()
            .unwrap_or_else(|| panic!("{path}: volume {} is no ConfigMap", volume.name));
        let key = relative.to_string_lossy();
        self.config_map(&source.name)
            .data
            .as_ref()
            .and_then(|data| data.get(key.as_ref()))
            .unwrap_or_else(|| panic!("{path}: ConfigMap {} has no key {key}", source.name))
    }
}

struct PodTemplate<'a> {
    owner: String,
    meta: &'a ObjectMeta,
    labels: BTreeMap<String, String>,
    spec: &'a PodSpec,
}

impl<'a> PodTemplate<'a> {
    fn new(
        kind: &str,
        meta: &'a ObjectMeta,
        pod: Option<&'a ObjectMeta>,
        spec: Option<&'a PodSpec>,
    ) -> Self {
        let owner = format!("{kind}/{}", meta.name.as_deref().unwrap_or_default());
        let spec = spec.unwrap_or_else(|| panic!("{owner}: no pod spec"));
        let labels = pod.and_then(|m| m.labels.clone()).unwrap_or_default();
        Self {
            owner,
            meta,
            labels,
            spec,
        }
    }

    /// The checks of `checkov.io/skipN: CHECK=reason` annotations on the owner.
    fn checkov_skips(&self) -> BTreeSet<String> {
        let annotations = self.meta.annotations.iter().flatten();
        annotations
            .filter(|(key, _)| key.starts_with("checkov.io/skip"))
            .map(|(key, value)| {
                let (check, reason) = value.split_once('=').unwrap_or_default();
                assert!(
                    !reason.trim().is_empty(),
                    "{}: {key} without a reason",
                    self.owner
                );
                check.to_owned()
            })
            .collect()
    }

    fn containers(&self) -> impl Iterator<Item = &Container> {
        let init = self.spec.init_containers.iter().flatten();
        init.chain(&self.spec.containers)
    }
}

/// Adds `object` to `list`; returns its metadata.
fn push<T: Metadata<Ty = ObjectMeta>>(list: &mut Vec<T>, object: T) -> ObjectMeta {
    let meta = object.metadata().clone();
    list.push(object);
    meta
}

/// Decodes `value` as the Kubernetes type `T`, rejecting fields `T` does not have (k8s-openapi
/// itself skips them, so a typo would pass unnoticed).
fn typed<T: DeserializeOwned>(at: &str, value: Value) -> T {
    let mut unknown = Vec::new();
    let object = serde_ignored::deserialize(value, |path| unknown.push(path.to_string()))
        .unwrap_or_else(|e| panic!("{at}: {e}"));
    assert!(
        unknown.is_empty(),
        "{at}: fields Kubernetes does not know: {unknown:?}"
    );
    object
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(yaml_files(&path));
        } else if path
            .extension()
            .is_some_and(|ext| ext == "yaml" || ext == "yml")
        {
            files.push(path);
        }
    }
    files
}

/// The volume mounted at the longest mount path above `path`, and `path` below it.
fn mount_of<'a>(pod: &'a PodSpec, container: &Container, path: &'a str) -> (&'a Volume, &'a Path) {
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .filter(|m| Path::new(path).starts_with(&m.mount_path))
        .max_by_key(|m| m.mount_path.len())
        .unwrap_or_else(|| panic!("{path} is on no volume of container {}", container.name));
    let volume = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .unwrap_or_else(|| panic!("no volume {} in the pod", mount.name));
    let relative = Path::new(path).strip_prefix(&mount.mount_path).unwrap();
    (volume, relative)
}

fn claim_of<'a>(pod: &'a PodSpec, container: &Container, path: &'a str) -> &'a str {
    let (volume, _) = mount_of(pod, container, path);
    let claim = volume.persistent_volume_claim.as_ref();
    &claim
        .unwrap_or_else(|| panic!("{path} is on volume {}, no claim", volume.name))
        .claim_name
}

/// A container running `scan-bench`.
struct Entrypoint<'a> {
    at: String,
    pod: &'a PodSpec,
    container: &'a Container,
    invocation: Invocation,
}

/// A `scan-bench` command line from a manifest, split the way the binary's own `--help` says.
struct Invocation {
    /// The subcommand first.
    positionals: Vec<String>,
    /// Options by their long name, with their value.
    options: BTreeMap<String, Option<String>>,
}

impl Invocation {
    /// Panics on an option `scan-bench SUBCOMMAND --help` does not list.
    fn parse(args: &[String], at: &str) -> Self {
        let subcommand = args
            .first()
            .unwrap_or_else(|| panic!("{at}: no subcommand in args"));
        let known = options_of(subcommand);
        let mut invocation = Self {
            positionals: Vec::new(),
            options: BTreeMap::new(),
        };
        let mut rest = args.iter();
        while let Some(arg) = rest.next() {
            if !arg.starts_with('-') {
                invocation.positionals.push(arg.clone());
                continue;
            }
            let (name, inline) = match arg.split_once('=') {
                Some((name, value)) => (name, Some(value.to_owned())),
                None => (arg.as_str(), None),
            };
            let Some((long, takes_value)) = known.get(name) else {
                panic!(
                    "{at}: `scan-bench {subcommand}` has no option {name}; it has {:?}",
                    known.keys().collect::<Vec<_>>()
                );
            };
            let value = match (takes_value, inline) {
                (true, Some(value)) => Some(value),
                (true, None) => Some(
                    rest.next()
                        .unwrap_or_else(|| panic!("{at}: {name} needs a value"))
                        .clone(),
                ),
                (false, None) => None,
                (false, Some(_)) => panic!("{at}: {name} takes no value"),
            };
            invocation.options.insert(long.clone(), value);
        }
        invocation
    }

    fn is(&self, subcommand: &str) -> bool {
        self.positionals.first().map(String::as_str) == Some(subcommand)
    }

    fn value(&self, long: &str) -> &str {
        self.options
            .get(long)
            .and_then(Option::as_deref)
            .unwrap_or_else(|| panic!("`scan-bench {}` without {long}", self.positionals[0]))
    }
}

/// The options `scan-bench SUBCOMMAND --help` lists: every spelling to its long name, and
/// whether it takes a value.
fn options_of(subcommand: &str) -> BTreeMap<String, (String, bool)> {
    let output = scan_bench().args([subcommand, "--help"]).output().unwrap();
    assert!(output.status.success(), "scan-bench {subcommand} --help");
    let help = String::from_utf8(output.stdout).unwrap();
    let mut options = BTreeMap::new();
    let is_option = |word: &&str| {
        word.starts_with("--") && word.len() > 2 || word.len() == 2 && word.starts_with('-')
    };
    // Option lines look like `-o, --output <TOTAL.json>  The merged report` or `--quiet`
    // (possible values are listed as `- term: ...`).
    for line in help.lines().map(str::trim_start) {
        let spec = line.split("  ").next().unwrap();
        let names: Vec<&str> = spec
            .split([',', ' '])
            .filter(|word| !word.is_empty())
            .take_while(is_option)
            .collect();
        let Some(long) = names.last().map(|name| name.to_string()) else {
            continue;
        };
        for name in names {
            options.insert(name.to_owned(), (long.clone(), spec.contains('<')));
        }
    }
    assert!(
        options.contains_key("--help"),
        "no options parsed from:\n{help}"
    );
    options
}

/// `http(s)://...` words of a container's command and args.
fn urls(container: &Container) -> Vec<reqwest::Url> {
    let words = container.command.iter().chain(&container.args).flatten();
    words
        .flat_map(|arg| arg.split_whitespace())
        .filter(|word| word.starts_with("http://") || word.starts_with("https://"))
        .map(|word| {
            let word = word.trim_end_matches([';', '"', '\'']);
            reqwest::Url::parse(word).unwrap_or_else(|e| panic!("{word}: {e}"))
        })
        .collect()
}

fn container_port(container: &Container, port: &IntOrString) -> i32 {
    let ports = container.ports.iter().flatten();
    let found = match port {
        IntOrString::Int(number) => ports.clone().find(|p| p.container_port == *number),
        IntOrString::String(name) => ports.clone().find(|p| p.name.as_ref() == Some(name)),
    };
    found
        .unwrap_or_else(|| panic!("container {} has no port {port:?}", container.name))
        .container_port
}

fn subset(small: &BTreeMap<String, String>, large: &BTreeMap<String, String>) -> bool {
    small.iter().all(|(k, v)| large.get(k) == Some(v))
}

#[test]
fn manifests_are_kubernetes_objects_of_the_expected_kinds() {
    let manifests = Manifests::load();
    let expected: BTreeSet<(String, String)> = [
        ("Namespace", "scan-bench"),
        ("ConfigMap", "mock-openai-config"),
        ("ConfigMap", "reference-pipeline-config"),
        ("ConfigMap", "scan-bench-scenario"),
        ("Deployment", "mock-openai"),
        ("Deployment", "reference-pipeline"),
        ("Service", "mock-openai"),
        ("Service", "reference-pipeline"),
        ("PersistentVolumeClaim", "scan-bench-reports"),
        ("Job", SHARDS_JOB),
        ("Job", MERGE_JOB),
        ("Pod", "scan-bench-reports"),
        ("NetworkPolicy", "default-deny-ingress"),
        ("NetworkPolicy", "mock-openai"),
        ("NetworkPolicy", "reference-pipeline"),
    ]
    .into_iter()
    .map(|(kind, name)| (kind.to_owned(), name.to_owned()))
    .collect();
    assert_eq!(manifests.objects, expected);

    for template in manifests.pod_templates() {
        let (owner, pod) = (&template.owner, template.spec);
        let timed = TIMED.contains(&owner.as_str());
        assert_eq!(
            template.checkov_skips().contains(CPU_LIMIT_CHECK),
            timed,
            "{owner}: checkov's {CPU_LIMIT_CHECK} skipped exactly where the CPU is not limited"
        );
        let init = pod.init_containers.iter().flatten().map(|c| (c, true));
        for (container, is_init) in init.chain(pod.containers.iter().map(|c| (c, false))) {
            let at = format!("{owner} container {}", container.name);
            assert_eq!(container.image.as_deref(), Some(IMAGE), "{at}");
            // The image is built locally (kind load); its tag comes from the kustomizations.
            assert_eq!(
                container.image_pull_policy.as_deref(),
                Some("IfNotPresent"),
                "{at}"
            );
            let resources = container.resources.as_ref();
            let requests = resources.and_then(|r| r.requests.as_ref());
            let limits = resources.and_then(|r| r.limits.as_ref());
            assert!(
                requests.is_some_and(|r| r.contains_key("cpu") && r.contains_key("memory")),
                "{at}: CPU and memory requests"
            );
            assert!(
                limits.is_some_and(|l| l.contains_key("memory")),
                "{at}: a memory limit"
            );
            // An init container (the shards' wait for the target) times nothing.
            let cpu_limited = !timed || is_init;
            assert_eq!(
                limits.is_some_and(|l| l.contains_key("cpu")),
                cpu_limited,
                "{at}: a CPU limit unless it runs what is timed (throttling distorts timing)"
            );
        }
        for claim in pod
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.persistent_volume_claim.as_ref())
        {
            let claimed = ("PersistentVolumeClaim".to_owned(), claim.claim_name.clone());
            assert!(manifests.objects.contains(&claimed), "{owner}: {claimed:?}");
        }
        for source in pod
            .volumes
            .iter()
            .flatten()
            .filter_map(|v| v.config_map.as_ref())
        {
            manifests.config_map(&source.name); // panics when it is missing
        }
    }
}

#[test]
fn pods_run_unprivileged_without_an_api_token() {
    let manifests = Manifests::load();
    for (owner, pod) in manifests.pod_specs() {
        // Nothing here calls the Kubernetes API.
        assert_eq!(
            pod.automount_service_account_token,
            Some(false),
            "{owner}: automountServiceAccountToken: false"
        );
        let context = pod.security_context.as_ref();
        assert_eq!(
            context.and_then(|c| c.run_as_non_root),
            Some(true),
            "{owner}"
        );
        let seccomp = context.and_then(|c| c.seccomp_profile.as_ref());
        assert_eq!(
            seccomp.map(|s| s.type_.as_str()),
            Some("RuntimeDefault"),
            "{owner}"
        );
        let init = pod.init_containers.iter().flatten();
        for container in init.chain(&pod.containers) {
            let at = format!("{owner} container {}", container.name);
            let context = container.security_context.as_ref().expect(&at);
            assert_eq!(context.allow_privilege_escalation, Some(false), "{at}");
            assert_eq!(context.read_only_root_filesystem, Some(true), "{at}");
            let dropped = context.capabilities.as_ref().and_then(|c| c.drop.as_ref());
            assert_eq!(
                dropped.map(Vec::as_slice),
                Some(&["ALL".to_owned()][..]),
                "{at}"
            );
        }
    }
}

/// Whether `selector` (matchLabels only) selects pods labelled `labels`.
fn selects(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    assert!(
        selector.match_expressions.is_none(),
        "this test reads matchLabels only"
    );
    subset(&selector.match_labels.clone().unwrap_or_default(), labels)
}

/// Whether a pod of `source` may open a TCP connection to `port` of a pod of `target`, both in
/// the namespace, under the manifests' NetworkPolicies.
fn admitted(
    policies: &[NetworkPolicy],
    source: &PodTemplate,
    target: &PodTemplate,
    port: i32,
) -> bool {
    let selecting: Vec<_> = policies
        .iter()
        .filter_map(|p| p.spec.as_ref())
        .filter(|spec| {
            let mut types = spec.policy_types.iter().flatten();
            types.any(|t| t == "Ingress")
                && selects(
                    spec.pod_selector.as_ref().expect("podSelector"),
                    &target.labels,
                )
        })
        .collect();
    if selecting.is_empty() {
        return true; // not isolated
    }
    // A policy's port names a number, or a container port of the target by name.
    let target_port = |p: &IntOrString| match p {
        IntOrString::Int(number) => *number == port,
        IntOrString::String(name) => target
            .containers()
            .flat_map(|c| c.ports.iter().flatten())
            .any(|cp| cp.container_port == port && cp.name.as_ref() == Some(name)),
    };
    let mut rules = selecting
        .iter()
        .flat_map(|spec| spec.ingress.iter().flatten());
    rules.any(|rule| {
        let from = rule.from.as_deref().unwrap_or_default();
        let peers = from.is_empty()
            || from.iter().any(|peer| {
                peer.pod_selector
                    .as_ref()
                    .is_some_and(|s| selects(s, &source.labels))
            });
        let ports = rule.ports.as_deref().unwrap_or_default();
        let on_port = ports.is_empty()
            || ports.iter().any(|p| {
                assert!(p.end_port.is_none(), "this test reads single ports only");
                p.protocol.as_deref().unwrap_or("TCP") == "TCP"
                    && p.port.as_ref().is_none_or(target_port)
            });
        peers && on_port
    })
}

#[test]
fn network_policies_admit_only_the_load_generator_and_the_pipeline() {
    let manifests = Manifests::load();
    let policies = &manifests.network_policies;
    for policy in policies {
        let name = policy.metadata.name.as_deref().unwrap();
        let spec = policy.spec.as_ref().unwrap();
        assert_eq!(
            spec.policy_types.as_deref(),
            Some(&["Ingress".to_owned()][..]),
            "{name}"
        );
        for peer in spec
            .ingress
            .iter()
            .flatten()
            .flat_map(|r| r.from.iter().flatten())
        {
            // Only pods of the namespace are admitted (a Prometheus rule is the user's own).
            assert!(
                peer.namespace_selector.is_none() && peer.ip_block.is_none(),
                "{name}: a peer outside the namespace"
            );
            let selector = peer.pod_selector.as_ref().expect("podSelector");
            assert!(
                manifests
                    .pod_templates()
                    .iter()
                    .any(|t| selects(selector, &t.labels)),
                "{name}: a peer selecting no pod"
            );
        }
    }

    let templates = manifests.pod_templates();
    let mut flows = BTreeSet::new();
    for target in &templates {
        let ports = target.containers().flat_map(|c| c.ports.iter().flatten());
        let ports: BTreeSet<i32> = ports.map(|p| p.container_port).collect();
        // Default deny: a pod in the namespace without labels reaches nothing.
        let stranger = PodTemplate {
            owner: "Pod/stranger".to_owned(),
            meta: target.meta,
            labels: BTreeMap::new(),
            spec: target.spec,
        };
        for &port in &ports {
            assert!(
                !admitted(policies, &stranger, target, port),
                "{}: port {port} open to any pod",
                target.owner
            );
            for source in templates.iter().filter(|s| s.owner != target.owner) {
                if admitted(policies, source, target, port) {
                    flows.insert((source.owner.clone(), target.owner.clone(), port));
                }
            }
        }
    }
    let shards = format!("Job/{SHARDS_JOB}");
    let expected: BTreeSet<(String, String, i32)> = [
        (shards.as_str(), "Deployment/reference-pipeline", 8000),
        (shards.as_str(), "Deployment/mock-openai", 8080),
        (
            "Deployment/reference-pipeline",
            "Deployment/mock-openai",
            8080,
        ),
    ]
    .into_iter()
    .map(|(from, to, port)| (from.to_owned(), to.to_owned(), port))
    .collect();
    assert_eq!(flows, expected);

    // Every URL a container calls is a flow the policies admit.
    for source in &templates {
        for url in source.containers().flat_map(urls) {
            let host = url.host_str().unwrap();
            let port = i32::from(url.port_or_known_default().unwrap());
            let service = manifests
                .services
                .iter()
                .find(|s| s.metadata.name.as_deref() == Some(host))
                .unwrap_or_else(|| panic!("{}: {url} names no Service", source.owner));
            let spec = service.spec.as_ref().unwrap();
            let service_port = spec
                .ports
                .iter()
                .flatten()
                .find(|p| p.port == port)
                .unwrap();
            let selector = spec.selector.as_ref().unwrap();
            let target = templates
                .iter()
                .find(|t| subset(selector, &t.labels))
                .unwrap();
            let target_port = service_port.target_port.clone();
            let target_port = target_port.unwrap_or(IntOrString::Int(port));
            let container = target.spec.containers.iter().find(|c| {
                let ports = c.ports.iter().flatten();
                ports.clone().any(|p| match &target_port {
                    IntOrString::Int(n) => p.container_port == *n,
                    IntOrString::String(name) => p.name.as_ref() == Some(name),
                })
            });
            let number =
                container_port(container.expect("the Service's target port"), &target_port);
            assert!(
                admitted(policies, source, target, number),
                "{}: {url} is refused by the NetworkPolicies",
                source.owner
            );
        }
    }
}

#[test]
fn mock_openai_takes_its_admin_token_from_an_optional_secret() {
    let manifests = Manifests::load();
    let mock = manifests.entrypoint("Deployment/mock-openai", "serve");
    let token = mock
        .container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "MOCK_OPENAI_ADMIN_TOKEN")
        .and_then(|e| e.value_from.as_ref()?.secret_key_ref.as_ref())
        .expect("MOCK_OPENAI_ADMIN_TOKEN from a Secret");
    assert_eq!(token.name, "mock-openai-admin");
    assert_eq!(token.key, "token");
    // Without the Secret the mock starts all the same, its admin endpoint open to the pods the
    // NetworkPolicies admit.
    assert_eq!(token.optional, Some(true));
    let template = manifests.pod_template("Deployment/mock-openai");
    assert!(template.checkov_skips().contains("CKV_K8S_35"));
}

#[test]
fn kustomizations_apply_every_manifest_beside_them_in_the_namespace() {
    let manifests = Manifests::load();
    let [namespace] = manifests.namespaces.as_slice() else {
        panic!("one Namespace");
    };
    let namespace = namespace.metadata.name.as_deref().unwrap();
    let root = deploy_dir().join("kubernetes");
    assert!(manifests.kustomizations.contains_key(&root));
    assert_eq!(
        manifests.kustomizations.keys().collect::<BTreeSet<_>>(),
        manifests.files.keys().collect::<BTreeSet<_>>(),
        "one kustomization.yaml in each directory of manifests"
    );
    for (dir, kustomization) in &manifests.kustomizations {
        let at = dir.join("kustomization.yaml").display().to_string();
        assert_eq!(kustomization["namespace"], namespace, "{at}");
        let resources: BTreeSet<String> = kustomization["resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{at}: no resources"))
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        assert_eq!(&resources, &manifests.files[dir], "{at}: resources");
        let images = kustomization["images"].as_array();
        assert!(
            images.is_some_and(|images| images.iter().any(|i| i["name"] == IMAGE)),
            "{at}: an `images` entry for {IMAGE}"
        );
    }
}

#[test]
fn scan_bench_containers_use_only_options_the_binary_accepts() {
    let manifests = Manifests::load();
    let entrypoints = manifests.scan_bench_containers();
    let mut subcommands = BTreeSet::new();
    for entrypoint in &entrypoints {
        // Parsing already refused unknown options; $(VAR) in args must name a declared variable.
        let declared: BTreeSet<&str> = entrypoint
            .container
            .env
            .iter()
            .flatten()
            .map(|e| e.name.as_str())
            .collect();
        for arg in entrypoint.container.args.iter().flatten() {
            for reference in arg.split("$(").skip(1) {
                let name = reference.split(')').next().unwrap();
                assert!(
                    declared.contains(name),
                    "{}: $({name}) is not in env",
                    entrypoint.at
                );
            }
        }
        let invocation = &entrypoint.invocation;
        subcommands.insert(invocation.positionals[0].clone());
        if invocation.is("serve") {
            subcommands.insert(format!("serve {}", invocation.positionals[1]));
        }
    }
    let expected = [
        "merge",
        "run",
        "serve",
        "serve mock-openai",
        "serve pipeline",
    ];
    assert_eq!(subcommands, BTreeSet::from(expected.map(String::from)));
}

#[test]
fn shards_are_an_indexed_job_whose_index_picks_the_shard_and_its_report() {
    let manifests = Manifests::load();
    let job = manifests.job(SHARDS_JOB);
    let spec = job.spec.as_ref().unwrap();
    assert_eq!(spec.completion_mode.as_deref(), Some("Indexed"));
    let n = spec.completions.expect("completions");
    assert!(n >= 1);
    assert_eq!(spec.parallelism, Some(n), "all shards at once");

    let shard = manifests.entrypoint(&format!("Job/{SHARDS_JOB}"), "run");
    assert_eq!(shard.pod.restart_policy.as_deref(), Some("Never"));
    let run = &shard.invocation;
    assert_eq!(
        run.value("--shard"),
        format!("$({INDEX_VAR})/{n}"),
        "--shard INDEX/N with N = completions"
    );
    let index = shard
        .container
        .env
        .iter()
        .flatten()
        .find(|e| e.name == INDEX_VAR)
        .and_then(|e| e.value_from.as_ref()?.field_ref.as_ref())
        .expect("JOB_COMPLETION_INDEX from a field reference");
    assert_eq!(
        index.field_path,
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );

    let out = run.value("--out");
    assert!(
        out.contains(&format!("$({INDEX_VAR})")),
        "one --out per shard"
    );
    let claim = claim_of(shard.pod, shard.container, out);

    let listen: SocketAddr = run.value("--metrics-listen").parse().unwrap();
    let metrics = shard.container.ports.iter().flatten();
    let metrics = metrics
        .clone()
        .find(|p| p.name.as_deref() == Some("metrics"));
    assert_eq!(
        metrics.map(|p| p.container_port),
        Some(i32::from(listen.port())),
        "the container port `metrics` is the --metrics-listen port"
    );

    // The merge names every shard's report, on the same claim, and writes there too.
    let merge = manifests.entrypoint(&format!("Job/{MERGE_JOB}"), "merge");
    let reports: Vec<String> = (0..n)
        .map(|i| {
            let dir = out.replace(&format!("$({INDEX_VAR})"), &i.to_string());
            format!("{dir}/report.json")
        })
        .collect();
    assert_eq!(
        merge.invocation.positionals[1..],
        reports,
        "the merge names the report of each of the {n} shards"
    );
    let output = merge.invocation.value("--output");
    for path in reports.iter().map(String::as_str).chain([output]) {
        assert_eq!(claim_of(merge.pod, merge.container, path), claim, "{path}");
    }
    // The pod kept for `kubectl cp` sees the same reports.
    let reader = manifests
        .pods
        .iter()
        .find(|p| p.metadata.name.as_deref() == Some("scan-bench-reports"))
        .and_then(|p| p.spec.as_ref())
        .expect("Pod scan-bench-reports");
    assert_eq!(claim_of(reader, &reader.containers[0], output), claim);
}

#[test]
fn services_route_to_their_deployments_and_every_url_names_a_service() {
    let manifests = Manifests::load();
    for service in &manifests.services {
        let name = service.metadata.name.as_deref().unwrap();
        let spec = service.spec.as_ref().unwrap();
        let selector = spec.selector.as_ref().expect("a selector");
        let selected: Vec<&Deployment> = manifests
            .deployments
            .iter()
            .filter(|d| {
                let template = &d.spec.as_ref().unwrap().template;
                let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
                labels.is_some_and(|labels| subset(selector, labels))
            })
            .collect();
        let [deployment] = selected.as_slice() else {
            panic!("Service {name} selects {} Deployments", selected.len());
        };
        let owner = format!(
            "Deployment/{}",
            deployment.metadata.name.as_deref().unwrap()
        );
        let server = manifests.entrypoint(&owner, "serve");
        let listen: SocketAddr = server.invocation.value("--listen").parse().unwrap();
        for port in spec.ports.iter().flatten() {
            let target = port.target_port.clone();
            let target = target.unwrap_or(IntOrString::Int(port.port));
            let number = container_port(server.container, &target);
            assert_eq!(
                number,
                i32::from(listen.port()),
                "Service {name} port {}",
                port.port
            );
        }
        let probes = [
            &server.container.readiness_probe,
            &server.container.liveness_probe,
        ];
        for probe in probes {
            let get = probe.as_ref().and_then(|p| p.http_get.as_ref());
            let get = get.unwrap_or_else(|| panic!("{owner}: HTTP probes"));
            container_port(server.container, &get.port);
        }
    }
    for deployment in &manifests.deployments {
        let spec = deployment.spec.as_ref().unwrap();
        let template = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone());
        let selector = spec.selector.match_labels.as_ref().expect("matchLabels");
        assert!(subset(selector, &template.unwrap_or_default()));
    }

    let mut checked = 0;
    for (owner, pod) in manifests.pod_specs() {
        let init = pod.init_containers.iter().flatten();
        for container in init.chain(&pod.containers) {
            for url in urls(container) {
                let host = url.host_str().unwrap();
                let port = url.port_or_known_default().unwrap();
                let service = manifests
                    .services
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some(host))
                    .unwrap_or_else(|| panic!("{owner}: {url} names no Service"));
                let ports = service.spec.as_ref().unwrap().ports.iter().flatten();
                assert!(
                    ports.clone().any(|p| p.port == i32::from(port)),
                    "{owner}: {url}: Service {host} has no port {port}"
                );
                checked += 1;
            }
        }
    }
    // The pipeline's --openai-url, the shards' --target, --target-metrics and their wait.
    assert!(checked >= 4, "{checked} URLs");
    let shard = manifests.entrypoint(&format!("Job/{SHARDS_JOB}"), "run");
    let target = reqwest::Url::parse(shard.invocation.value("--target")).unwrap();
    assert_eq!(target.host_str(), Some("reference-pipeline"));
}

#[test]
fn config_maps_hold_files_the_servers_and_the_load_generator_accept() {
    let manifests = Manifests::load();
    let mut servers = BTreeSet::new();
    for entrypoint in manifests.scan_bench_containers() {
        let invocation = &entrypoint.invocation;
        if invocation.is("serve") {
            let path = invocation.value("--config");
            let text = manifests.mounted_file(entrypoint.pod, entrypoint.container, path);
            let at = format!("{}: {path}", entrypoint.at);
            let server = invocation.positionals[1].as_str();
            match server {
                "mock-openai" => {
                    MockConfig::from_toml_str(text, &at).unwrap_or_else(|e| panic!("{e}"));
                }
                "pipeline" => {
                    PipelineConfig::from_toml_str(text, &at).unwrap_or_else(|e| panic!("{e}"));
                }
                other => panic!("{at}: unknown server {other}"),
            }
            servers.insert(server.to_owned());
        } else if invocation.is("run") {
            let path = &invocation.positionals[1];
            let text = manifests.mounted_file(entrypoint.pod, entrypoint.container, path);
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join("scenario.toml");
            std::fs::write(&file, text).unwrap();
            scan_bench().arg("validate").arg(&file).assert().success();
            servers.insert("run".to_owned());
        }
    }
    let expected = ["mock-openai", "pipeline", "run"];
    assert_eq!(servers, BTreeSet::from(expected.map(String::from)));
}

/// What `scan-bench run --metrics-listen` exports, as Prometheus stores it.
const COUNTERS: [&str; 5] = [
    "scan_bench_requests_started_total",
    "scan_bench_requests_completed_total",
    "scan_bench_requests_partial_total",
    "scan_bench_requests_failed_total",
    "scan_bench_dropped_iterations_total",
];
const GAUGES: [&str; 1] = ["scan_bench_active_vus"];
const HISTOGRAMS: [&str; 5] = [
    "scan_bench_ttfb_seconds",
    "scan_bench_first_stage_seconds",
    "scan_bench_chain_seconds",
    "scan_bench_stage_seconds",
    "scan_bench_scheduling_lag_seconds",
];
const LABELS: [&str; 4] = ["le", "class", "stage", "instance"];
const FUNCTIONS: [&str; 8] = [
    "sum",
    "max",
    "min",
    "avg",
    "rate",
    "increase",
    "histogram_quantile",
    "clamp_min",
];

/// Series names and grouping labels of a PromQL expression; panics on an identifier that is
/// neither (a function not in [`FUNCTIONS`], say).
fn promql_names(expr: &str) -> (Vec<String>, Vec<String>) {
    // Label matchers, ranges and strings carry no series names.
    let mut plain = String::new();
    let mut closing = None;
    for c in expr.chars() {
        match (closing, c) {
            (None, '{') => closing = Some('}'),
            (None, '[') => closing = Some(']'),
            (None, '"') => closing = Some('"'),
            (None, c) => plain.push(c),
            (Some(end), c) if c == end => {
                closing = None;
                plain.push(' ');
            }
            (Some(_), _) => {}
        }
    }
    let mut series = Vec::new();
    let mut labels = Vec::new();
    let mut grouping = false;
    let mut rest = plain.as_str();
    while let Some(start) = rest.find(|c: char| c.is_ascii_alphanumeric() || c == '_') {
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':' || c == '.'))
            .unwrap_or(rest.len());
        let word = &rest[..end];
        let before_paren = rest[end..].trim_start().starts_with('(');
        rest = &rest[end..];
        if word.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        if grouping {
            labels.push(word.to_owned());
            grouping = !rest.trim_start().starts_with(')');
        } else if word == "by" || word == "without" {
            grouping = true;
        } else if FUNCTIONS.contains(&word) {
        } else {
            assert!(!before_paren, "{expr}: unknown function {word}");
            series.push(word.to_owned());
        }
    }
    (series, labels)
}

#[test]
fn grafana_dashboard_queries_only_the_metrics_the_load_generator_exports() {
    let path = deploy_dir().join("grafana/scan-bench.json");
    let text = std::fs::read_to_string(&path).unwrap();
    let dashboard: Value = serde_json::from_str(&text).unwrap();
    let mut exported: BTreeSet<String> = COUNTERS
        .iter()
        .chain(&GAUGES)
        .map(|s| s.to_string())
        .collect();
    for histogram in HISTOGRAMS {
        for suffix in ["_bucket", "_sum", "_count"] {
            exported.insert(format!("{histogram}{suffix}"));
        }
    }
    assert!(
        dashboard["templating"]["list"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["name"] == "datasource" && v["type"] == "datasource")
    );

    let mut ids = BTreeSet::new();
    let mut queried = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap();
        assert!(
            ids.insert(panel["id"].as_u64().unwrap()),
            "{title}: id twice"
        );
        let grid = &panel["gridPos"];
        let right = grid["x"].as_u64().unwrap() + grid["w"].as_u64().unwrap();
        assert!(right <= 24, "{title}: wider than the grid");
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{title}");
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{title}: no query");
        let mut ref_ids = BTreeSet::new();
        for target in targets {
            assert!(ref_ids.insert(target["refId"].as_str().unwrap()), "{title}");
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{title}");
            let expr = target["expr"].as_str().unwrap();
            let (series, labels) = promql_names(expr);
            assert!(!series.is_empty(), "{title}: {expr}");
            for name in series {
                assert!(exported.contains(&name), "{title}: {name} is not exported");
                if expr.contains("histogram_quantile") {
                    assert!(name.ends_with("_bucket"), "{title}: quantile of {name}");
                }
                queried.insert(name);
            }
            for label in labels {
                assert!(LABELS.contains(&label.as_str()), "{title}: label {label}");
            }
        }
    }
    // Every exported family has a panel.
    for family in COUNTERS.iter().chain(&GAUGES).chain(&HISTOGRAMS) {
        assert!(
            queried.iter().any(|q| q.starts_with(family)),
            "no panel shows {family}"
        );
    }
}

#[test]
fn promql_names_tell_series_from_functions_and_labels() {
    let (series, labels) = promql_names(
        "histogram_quantile(0.99, sum by (stage, le) (rate(a_bucket{class=\"x y\"}[5m]))) / b",
    );
    assert_eq!(series, ["a_bucket", "b"]);
    assert_eq!(labels, ["stage", "le"]);
}

#[test]
#[should_panic(expected = "unknown function")]
fn promql_names_refuse_unknown_functions() {
    promql_names("irate(a[1m])");
}
