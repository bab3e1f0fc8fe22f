"""Analysis of stored results: paired scenario comparisons, HTML reports, sensitivity and scenario discovery.

Every function here takes loaded results (``sim.results.Batch`` or its DataFrames) and returns DataFrames,
figures or files; nothing prints. A mistake in what is asked - a folder that is not a results folder, an
unknown outcome, results that cannot be analysed together - raises :class:`AnalysisError` with a message that
names the path or field and what was expected (the command line turns it into exit code 2).

* :mod:`sim.analysis.common` - opening results folders, metrics (final outcomes, class shares), fresh output
  folders written atomically.
* :mod:`sim.analysis.compare` - pairing on common random numbers, paired and Welch differences.
* :mod:`sim.analysis.classes` - the outcome-class rules of a batch and what its runs reach of them.
* :mod:`sim.analysis.figures` - a batch's figures as jobs drawn from its files, in any process.
* :mod:`sim.analysis.finishing` - a finished batch's figures and report drawn on the workers, then its folder
  swapped into place.
* :mod:`sim.analysis.report` - self-contained ``report.html`` pages.
* :mod:`sim.analysis.sensitivity` - Sobol and Morris indices of a sweep, replications averaged.
* :mod:`sim.analysis.discovery` - which assumptions lead to an outcome class (decision-tree boxes).
"""

from sim.analysis.common import AnalysisError, load_results, open_results

__all__ = ["AnalysisError", "load_results", "open_results"]
