"""The messages a team sends, pure: what each kind of message is given (`contexts`), how a
template turns it into text in the reader's language (`rendering`), and realistic sample
data per locale for previews and checks (`samples`, from `sample_data/<locale>.json`)."""
