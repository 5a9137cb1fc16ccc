// Unit: the balloon experiment's outputs: CSV rows, the step table's empty fields, the
// summary's headline and ratios, and the gnuplot script's selection of rows.
#include <gtest/gtest.h>

#include "vmm/bench/balloon_plot.hpp"
#include "vmm/bench/balloon_report.hpp"

namespace tide::vmm::bench {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

BalloonSample sample(uint64_t target_mib, uint64_t actual_mib, uint64_t host_kib, uint64_t pool_mib) {
  return BalloonSample{target_mib * kMiB, actual_mib * kMiB, host_kib * 1024, pool_mib * kMiB};
}

BalloonStepResult step(size_t index, uint64_t from_mib, uint64_t to_mib, std::optional<double> reach_ms,
                       uint64_t host_start_mib, uint64_t host_window_mib) {
  BalloonStepResult s;
  s.index = index;
  s.step.from_bytes = from_mib * kMiB;
  s.step.balloon_bytes = to_mib * kMiB;
  s.step.guest_percent = 100.0 - static_cast<double>(to_mib) * 100.0 / 1024.0;
  s.start_ms = 10.0 * static_cast<double>(index);
  s.end_ms = s.start_ms + 5;
  s.reach_ms = reach_ms;
  s.settled = reach_ms.has_value();
  s.timed_out = !reach_ms;
  s.host_start_bytes = host_start_mib * kMiB;
  s.host_reach_bytes = reach_ms ? host_window_mib * kMiB : 0;
  s.host_window_bytes = reach_ms ? host_window_mib * kMiB : 0;
  s.host_end_bytes = host_window_mib * kMiB;
  if (reach_ms && to_mib > from_mib) {
    s.released_fraction = static_cast<double>(host_start_mib - host_window_mib) / static_cast<double>(to_mib - from_mib);
  }
  return s;
}

// tide inflates 0 -> 512 in 20 ms releasing all of it; QEMU in 200 ms releasing a quarter;
// both deflate back.
std::vector<BalloonRun> two_runs() {
  BalloonRun tide;
  tide.vmm = "tide";
  tide.accel = "kvm";
  tide.memory_bytes = 1024 * kMiB;
  tide.points = {{0, 0, sample(0, 0, 1024 * 1024, 0)}, {12.5, 1, sample(512, 256, 768 * 1024 + 512, 256)}};
  tide.steps = {step(1, 0, 512, 20.0, 1024, 512), step(2, 512, 0, 3.0, 512, 512)};
  BalloonRun qemu = tide;
  qemu.vmm = "qemu";
  qemu.points = {{0, 0, sample(0, 0, 1100 * 1024, 0)}};
  qemu.steps = {step(1, 0, 512, 200.0, 1100, 972), step(2, 512, 0, 30.0, 972, 972)};
  return {tide, qemu};
}

TEST(BalloonReport, SamplesCsvHasOneRowPerSampleInMiB) {
  const std::string csv = format_samples_csv(two_runs());
  EXPECT_EQ(csv,
            "vmm,run,t_ms,step,target_mib,actual_mib,host_mib,pool_free_mib\n"
            "tide,1,0.000,0,0.000,0.000,1024.000,0.000\n"
            "tide,1,12.500,1,512.000,256.000,768.500,256.000\n"
            "qemu,1,0.000,0,0.000,0.000,1100.000,0.000\n");
}

TEST(BalloonReport, StepsCsvLeavesMissingFiguresEmpty) {
  auto runs = two_runs();
  runs[1].steps.push_back(step(3, 0, 768, std::nullopt, 972, 900));  // timed out
  const std::string csv = format_steps_csv(runs);
  const std::string header =
      "vmm,run,step,kind,guest_percent,from_mib,target_mib,start_ms,reach_ms,end_ms,status,"
      "host_start_mib,host_reach_mib,host_end_mib,host_window_mib,released_fraction\n";
  ASSERT_EQ(csv.substr(0, header.size()), header);
  EXPECT_NE(csv.find("\ntide,1,1,inflate,50,0.000,512.000,10.000,20.000,15.000,settled,1024.000,512.000,512.000,"
                     "512.000,1.0000\n"),
            std::string::npos)
      << csv;
  // A deflate has no window figure and no fraction.
  EXPECT_NE(csv.find("\ntide,1,2,deflate,100,512.000,0.000,20.000,3.000,25.000,settled,512.000,512.000,512.000,,\n"),
            std::string::npos)
      << csv;
  EXPECT_NE(csv.find("\nqemu,1,1,inflate,50,0.000,512.000,10.000,200.000,15.000,settled,1100.000,972.000,972.000,"
                     "972.000,0.2500\n"),
            std::string::npos)
      << csv;
  // Never reached: no reach time, no host at reach, no fraction; the status says why.
  EXPECT_NE(csv.find("\nqemu,1,3,inflate,25,0.000,768.000,30.000,,35.000,timeout,972.000,,900.000,,\n"),
            std::string::npos)
      << csv;
  // Every row has the header's 16 fields.
  size_t pos = 0;
  while (pos < csv.size()) {
    const size_t nl = csv.find('\n', pos);
    const std::string row = csv.substr(pos, nl - pos);
    EXPECT_EQ(std::count(row.begin(), row.end(), ','), 15) << row;
    pos = nl + 1;
  }
}

TEST(BalloonReport, SummaryGivesTheHeadlineAndTheRatio) {
  BalloonReportInfo info{"100,50,100", 1024 * kMiB, 1000};
  const std::string text = format_balloon_summary(two_runs(), info);
  EXPECT_NE(text.find("1024 MiB guest, schedule 100,50,100"), std::string::npos) << text;
  EXPECT_NE(text.find("qemu: kvm, host = QEMU's RSS"), std::string::npos) << text;
  EXPECT_NE(text.find("descent 100% -> 50% of RAM: 1 inflate step;"), std::string::npos) << text;
  EXPECT_NE(text.find("tide    1         20.0     100.0% 512.0 of 512"), std::string::npos) << text;
  EXPECT_NE(text.find("qemu    1        200.0      25.0% 128.0 of 512"), std::string::npos) << text;
  EXPECT_NE(text.find("tide/qemu: inflate time 0.100, released fraction 4.00\n"), std::string::npos) << text;
  // Both held more than they ballooned: nothing to warn about.
  EXPECT_EQ(text.find("note:"), std::string::npos) << text;
}

TEST(BalloonReport, SummaryNotesWhenTooLittleWasResidentToRelease) {
  auto runs = two_runs();
  runs[1].steps[0] = step(1, 0, 512, 200.0, 40, 40);  // a guest that touched nothing
  runs[1].steps[0].released_fraction = -0.00001;      // ... and a little RSS noise
  const std::string text = format_balloon_summary(runs, BalloonReportInfo{"100,50,100", 1024 * kMiB, 1000});
  EXPECT_NE(text.find("note: qemu held 40.0 MiB of host memory before the descent, less than the 512 MiB ballooned"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("note: tide"), std::string::npos) << text;
  EXPECT_EQ(text.find("-0.0%"), std::string::npos) << text;
  // A ratio of two shares of almost nothing would read as a result.
  EXPECT_NE(text.find("released fraction n/a (too little was resident, see the notes)"), std::string::npos) << text;
  EXPECT_NE(text.find(" 40.0       40.0       40.0      0.0%\n"), std::string::npos) << text;
}

TEST(BalloonReport, SummarySaysWhenTheDescentTimedOut) {
  auto runs = two_runs();
  runs[1].steps[0] = step(1, 0, 512, std::nullopt, 1100, 1000);
  runs[1].aborted = "step 2: sample: QEMU exited\n--- guest console ---\nTIDEGUEST READY";
  const std::string text = format_balloon_summary(runs, BalloonReportInfo{"100,50,100", 1024 * kMiB, 1000});
  EXPECT_NE(text.find("never timeout"), std::string::npos) << text;
  EXPECT_NE(text.find("qemu    1    timed out"), std::string::npos) << text;
  EXPECT_NE(text.find("tide/qemu: inflate time n/a"), std::string::npos) << text;
  EXPECT_NE(text.find("run ended early: step 2: sample: QEMU exited\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("TIDEGUEST READY"), std::string::npos) << text;  // the logs were logged, not summed up
}

TEST(BalloonReport, SummaryOfRepeatedRunsGivesMedians) {
  auto runs = two_runs();
  for (size_t i = 0; i < 2; ++i) {
    BalloonRun again = runs[i];
    again.run = 2;
    again.steps[0].reach_ms = *again.steps[0].reach_ms * 3;
    runs.push_back(again);
  }
  const std::string text = format_balloon_summary(runs, BalloonReportInfo{"100,50,100", 1024 * kMiB, 1000});
  EXPECT_NE(text.find("tide  med         40.0"), std::string::npos) << text;  // (20 + 60) / 2
  EXPECT_NE(text.find("qemu  med        400.0"), std::string::npos) << text;
  EXPECT_NE(text.find("tide/qemu: inflate time 0.100, released fraction 4.00 (medians over the runs)"), std::string::npos)
      << text;
}

TEST(BalloonPlot, ScriptSelectsEachPanelsRowsAndDrawsThreeSeries) {
  BalloonPlotSpec spec;
  spec.csv_path = "/out/balloon.csv";
  spec.png_path = "/out/say \"hi\".png";
  spec.title = "virtio-balloon, 1024 MiB guest";
  spec.panels = {{"tide", 1, "tide (kvm)", true}, {"qemu", 2, "qemu (kvm)", false}};
  spec.t_max_s = 12.5;
  spec.y_max_mib = 1100;
  const std::string s = balloon_gnuplot_script(spec, "pngcairo");
  EXPECT_NE(s.find("set terminal pngcairo noenhanced size 1200,840"), std::string::npos) << s;
  EXPECT_NE(s.find("set output \"/out/say \\\"hi\\\".png\""), std::string::npos) << s;
  EXPECT_NE(s.find("set multiplot layout 2,1 title \"virtio-balloon, 1024 MiB guest\""), std::string::npos) << s;
  EXPECT_NE(s.find("set xrange [0:12.500]"), std::string::npos) << s;
  EXPECT_NE(s.find("set yrange [0:1100.0]"), std::string::npos) << s;
  EXPECT_NE(s.find("(strcol(1) eq \"tide\" && $2 == 1) ? $5 : NaN"), std::string::npos) << s;
  EXPECT_NE(s.find("(strcol(1) eq \"qemu\" && $2 == 2) ? $7 : NaN"), std::string::npos) << s;
  EXPECT_NE(s.find("(strcol(1) eq \"tide\" && $2 == 1) ? $8 : NaN"), std::string::npos) << s;  // tide's pool
  EXPECT_EQ(s.find("(strcol(1) eq \"qemu\" && $2 == 2) ? $8 : NaN"), std::string::npos) << s;  // QEMU has none
  size_t titles = 0;
  for (size_t p = s.find("title \"balloon actual\""); p != std::string::npos; p = s.find("title \"balloon actual\"", p + 1)) {
    ++titles;
  }
  EXPECT_EQ(titles, 2u);
  EXPECT_NE(s.find("unset multiplot"), std::string::npos);
}

TEST(BalloonPlot, FindInPathFindsExecutablesOnly) {
  EXPECT_EQ(find_in_path("sh").empty(), false);
  EXPECT_EQ(find_in_path("tide-no-such-program-here"), "");
}

}  // namespace
}  // namespace tide::vmm::bench
