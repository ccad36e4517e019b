"""The stages of a change to the index: plan what the seeds changed, embed it, derive the search
structures and translation links, write the build; and the engines passages are embedded on."""
