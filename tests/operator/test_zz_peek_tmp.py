from e2e_harness import Scenario
from observed_operator import observed, observed_scene, scrape

def test_peek(observed_scene: Scenario) -> None:
    s = observed_scene
    s.create_sync("peek", select={"mlRepos": ["fraud"]})
    s.wait_condition("peek", "True", "Synced")
    s.wait(lambda: scrape(s.e2e.metrics_url).total("modelsync_syncs_total", sync="peek", result="success") >= 1, "x")
    print(s.e2e.operator.log())
    print(s.sync("peek")["status"])
