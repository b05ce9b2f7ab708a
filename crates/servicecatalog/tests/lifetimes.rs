//! The services are built in one direction, so dropping them frees everything: no
//! reference cycle keeps the store (or any service) alive, and nothing needs
//! `Store::close` to let go.

mod common;

use std::sync::Weak;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_services_leaves_nothing_alive() {
    let h = harness().await;
    // Use every part: the catalog (through the API), a launch on CloudFormation (its task
    // and the stack's providers) and a record read back.
    let (_port, prod_id, _pa) = product_with_portfolio(&h).await;
    let record =
        h.pp.provision_and_wait(launch(&prod_id, "alive"))
            .await
            .unwrap();
    assert_eq!(record.status, "SUCCEEDED");
    let terminated =
        h.pp.terminate(&record.provisioned_product_id, false)
            .await
            .unwrap();
    wait_record(&h, &terminated.record_id).await;

    let store = h.catalog.store_handle();
    let catalog: Weak<Catalog> = Arc::downgrade(&h.catalog);
    let provisioned: Weak<ProvisionedProducts> = Arc::downgrade(&h.pp);
    let cloudformation: Weak<CloudFormationService> = Arc::downgrade(&h.cfn);
    let api: Weak<ServiceCatalogService> = Arc::downgrade(&h.api);
    let Harness {
        _dir: dir,
        store: s,
        api: a,
        catalog: c,
        pp,
        cfn,
        source,
    } = h;
    drop((s, a, c, pp, cfn, source));
    // A finished operation's task may still be returning: give it a moment.
    for _ in 0..100 {
        if Arc::strong_count(&store) == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(api.upgrade().is_none(), "the API is still alive");
    assert!(
        provisioned.upgrade().is_none(),
        "the provisioned products are still alive"
    );
    assert!(
        cloudformation.upgrade().is_none(),
        "CloudFormation is still alive"
    );
    assert!(catalog.upgrade().is_none(), "the catalog is still alive");
    assert_eq!(
        Arc::strong_count(&store),
        1,
        "only this test holds the store"
    );
    drop(dir);
}
