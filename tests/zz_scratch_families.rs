use tacos::lint::*;
#[test]
fn scratch() {
    for dir in std::env::var("SCRATCH_DIRS").unwrap().split(',') {
        let tree = tacos::repo::load(&[dir.into()], &Default::default()).unwrap();
        let cx = LintContext {
            tree: &tree,
            settings: LintSettings::default(),
        };
        for check in [
            resources::check,
            scaling::check,
            network::check,
            labels::check,
        ] {
            for f in check(&cx) {
                println!(
                    "{dir}: {} {} {:?} {}",
                    f.rule,
                    f.subject,
                    f.location.as_ref().map(|l| l.to_string()),
                    f.message
                );
            }
        }
    }
}
