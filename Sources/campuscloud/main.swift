import App

await CampusCloudCLI.runMain()
