// The demo's labs: CS101 gets a JupyterLab environment (installed from the JupyterLab wheels scripts/install-deps
// keeps, else from PyPI; the demo's worker sets it up as soon as the demo serves), CS340 a terminal environment that
// needs no set-up. Both are open to their students and start with a file of their own.
import Fluent
import Foundation
import Grading
import Vapor

extension DemoData {
    static let notebookLab = "Python notebooks"
    static let shellLab = "Linux shell"
    static let jupyterSetup = """
        # JupyterLab from the wheels scripts/install-deps keeps (no network needed), else from PyPI.
        if [ -f /usr/local/share/campuscloud/wheels/.complete ]; then
          pip install --no-index --find-links /usr/local/share/campuscloud/wheels jupyterlab
        else
          pip install jupyterlab
        fi

        """

    /// Adds the two labs once; returns how many records it wrote.
    static func loadLabs(app: Application) async throws -> Int {
        guard let intro = try await Course.query(on: app.db).filter(\.$code == "CS101").first(),
              let cloud = try await Course.query(on: app.db).filter(\.$code == "CS340").first(),
              let instructor = try await User.query(on: app.db).filter(\.$email == DemoData.instructor.email).first(),
              try await LabEnvironment.query(on: app.db).filter(\.$name == notebookLab).count() == 0 else { return 0 }
        var notebooks = LabInput()
        (notebooks.name, notebooks.kind, notebooks.openTo, notebooks.setupScript) = (notebookLab, "jupyterlab", "students", jupyterSetup)
        notebooks.readySessions = 2
        let jupyter = try await LabEnvironments.create(in: intro, notebooks, by: instructor, at: app.clock.now(), writes: app.writes)
        let welcome = ##"{"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Welcome to CS101's lab\n", "Run the cell below (Shift+Enter)."]}, {"cell_type": "code", "execution_count": null, "metadata": {}, "outputs": [], "source": ["print(6 * 7)"]}], "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}"##
        try await LabHomes.setStartFiles(jupyter, zip: try SafeArchive.make(["welcome.ipynb": Data(welcome.utf8)]), at: app.clock.now(), on: app.db)
        var shell = LabInput()
        (shell.name, shell.kind, shell.openTo) = (shellLab, "terminal", "students")
        let terminal = try await LabEnvironments.create(in: cloud, shell, by: instructor, at: app.clock.now(), writes: app.writes)
        try await LabHomes.setStartFiles(terminal, zip: try SafeArchive.make(["README.txt": Data("Try: uname -a; df -h ~; python3 --version\n".utf8)]),
                                         at: app.clock.now(), on: app.db)
        return 2
    }
}
